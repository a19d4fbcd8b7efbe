"""Time-series and state stores: embedded (DuckDB + SQLite) and PostgreSQL."""
