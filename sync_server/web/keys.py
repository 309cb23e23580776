"""Application keys shared by the web features (`app[DB]`, `app[SETTINGS]`,
`app[LINK]`), apart from `app.py` so that the features it assembles can
import them."""
from aiohttp import web

DB = web.AppKey("db", object)  # sqlite_utils.Database
SETTINGS = web.AppKey("settings", dict)
LINK = web.AppKey("link", object)  # mqtt_link.Link while MQTT runs, else absent
