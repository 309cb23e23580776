"""Borne sync server: MQTT ingest, SQLite store, scoring, web pages, JSON API
and the `borne` command line. Installed as `borne_server`."""

__version__ = "0.1.0"
