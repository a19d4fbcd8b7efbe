"""Interoperability with Industry 4.0 standards and tools.

* :mod:`.aas`: the asset model as Asset Administration Shells (AAS v3 JSON/XML, basyx-python-sdk)
* :mod:`.opcua`: an OPC UA server exposing the asset model and live values (asyncua)
* :mod:`.grafana`: SQL views over the PostgreSQL store for Grafana

CSV and Parquet export of samples is the store's own (``shopfloor export``,
``GET /api/v1/export``; :meth:`shopfloor.store.base.TimeSeriesStore.export`). See docs/interop.md.
"""
