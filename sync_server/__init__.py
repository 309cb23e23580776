"""Borne sync server: MQTT ingest, SQLite store, scoring, web pages, JSON API
and the `borne` command line, one subpackage per concern (README has the map)."""

__version__ = "0.1.0"
