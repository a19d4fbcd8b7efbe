"""Modbus TCP connector: register maps as data, grouped block polling (see docs/edge.md)."""
