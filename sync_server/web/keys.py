"""Application keys shared by the web features (`app[DB]`, `app[SETTINGS]`,
`app[LINK]`), apart from `app.py` so that the features it assembles can
import them."""
import sqlite_utils
from aiohttp import web

from sync_server.ingest.mqtt_link import Link

DB = web.AppKey("db", sqlite_utils.Database)
SETTINGS = web.AppKey("settings", dict)
LINK = web.AppKey("link", Link)  # while MQTT runs, else absent
