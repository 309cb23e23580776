"""The JSON API on a real SQLite file, and `borne serve` end to end with the
embedded broker: votes in, config and time out, health and votes readable."""
import asyncio
import sqlite3
import time

import paho.mqtt.client as mqtt
import pytest
from aiohttp.test_utils import TestClient, TestServer

from protocol import server_wire as w
from sync_server.commands.cli import main
from sync_server.ingest.writer import Ingest
from sync_server.storage import registry
from sync_server.web.app import make_app
from tests import realparts
from tests.realparts import wait_until
from tests.server_support import T0, Kiosk, Server, api_get, api_headers, make_registry


def run_api(db, calls):
    """Run `calls(client)` against the app (no MQTT) in a fresh loop, with a
    read token."""
    headers = api_headers(db)

    async def go():
        client = TestClient(TestServer(make_app(db)), headers=headers)
        await client.start_server()
        try:
            return await calls(client)
        finally:
            await client.close()
    return asyncio.run(go())


@pytest.fixture
def db_with_votes(tmp_path):
    db = tmp_path / "b.db"
    keys = sorted(make_registry(db, 2))
    ing = Ingest(db)
    for dev in keys:
        ing.process([(w.topic(dev, "votes"), w.encode_batch(
            dev, 1, [(s, T0 + s * 1000, s % 4, 4, 0) for s in range(1, 151)]), False)])
    # Two pending votes (no anchor yet) are not listed, only counted.
    ing.process([(w.topic(keys[0], "votes"), w.encode_batch(
        keys[0], 2, [(200, 5, 0, 4, 1), (201, 6, 0, 4, 1)]), False)])
    ing.close()
    return db, keys


def test_votes_are_paged_in_time_order(db_with_votes):
    db, keys = db_with_votes

    async def calls(client):
        pages = []
        url = "/api/v1/sites/mairie-centre/votes?from=%d&to=%d&limit=70" % (
            T0 + 10_000, T0 + 140_000)
        while url:
            r = await client.get(url)
            assert r.status == 200
            body = await r.json()
            pages.append(body)
            url = body["next"]
        return pages

    pages = run_api(db, calls)
    votes = [v for p in pages for v in p["votes"]]
    # seqs 10..139 of both kiosks: 260 votes in 4 pages of at most 70.
    assert [len(p["votes"]) for p in pages] == [70, 70, 70, 50]
    assert len(votes) == 260 and len({(v["device_id"], v["seq"]) for v in votes}) == 260
    assert [v["utc_ms"] for v in votes] == sorted(v["utc_ms"] for v in votes)
    assert votes[0]["utc_ms"] == T0 + 10_000 and votes[-1]["utc_ms"] == T0 + 139_000
    assert pages[0]["pending_undated"] == 2


def test_sites_kiosks_openapi_and_json_errors(db_with_votes):
    db, keys = db_with_votes

    async def calls(client):
        out = {}
        for path in ("/healthz", "/api/v1/sites", "/api/v1/kiosks", "/api/v1/openapi.json",
                     "/api/v1/sites/nowhere/votes", "/api/v1/sites/mairie-centre/votes?from=x",
                     "/api/v1/sites/mairie-centre/votes?limit=0",
                     "/api/v1/sites/mairie-centre/votes?after=!!", "/api/v1/nothing",
                     "/api/v1/sites/mairie-centre/votes?from=2026-11-18&to=2026-11-19T00:00Z"):
            r = await client.get(path)
            out[path] = (r.status, r.content_type, await r.json())
        return out

    out = run_api(db, calls)
    assert out["/healthz"][:2] == (200, "application/json")
    sites = out["/api/v1/sites"][2]["sites"]
    assert sites[0]["id"] == "mairie-centre" and sites[0]["kiosks"] == 2
    kiosks = out["/api/v1/kiosks"][2]["kiosks"]
    assert [k["id"] for k in kiosks] == keys
    assert kiosks[0]["acked_seq"] == 201 and kiosks[0]["trusted"] is True
    spec = out["/api/v1/openapi.json"][2]
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/sites", "/api/v1/kiosks", "/api/v1/sites/{site_id}/votes",
            "/healthz"} <= set(spec["paths"])
    for path, status, words in (("/api/v1/sites/nowhere/votes", 404, "unknown site"),
                                ("/api/v1/sites/mairie-centre/votes?from=x", 400, "from"),
                                ("/api/v1/sites/mairie-centre/votes?limit=0", 400, "limit"),
                                ("/api/v1/sites/mairie-centre/votes?after=!!", 400, "cursor"),
                                ("/api/v1/nothing", 404, "Not Found")):
        got_status, ctype, body = out[path]
        assert (got_status, ctype) == (status, "application/json"), path
        assert body["error"]["status"] == status and words in body["error"]["message"]
    day = out["/api/v1/sites/mairie-centre/votes?from=2026-11-18&to=2026-11-19T00:00Z"]
    assert day[0] == 200 and len(day[2]["votes"]) == 200  # default page size


def test_openapi_describes_every_api_route(tmp_path):
    app = make_app(tmp_path / "b.db")
    routes = {r.resource.canonical for r in app.router.routes()
              if r.method == "GET" and r.resource.canonical.startswith("/api/")}
    assert "/api/v1/sites/{site_id}/satisfaction" in routes
    spec = run_api(tmp_path / "b.db", lambda c: _json(c, "/api/v1/openapi.json"))
    assert routes <= set(spec["paths"])


async def _json(client, path):
    r = await client.get(path)
    return await r.json()


class Listener:
    """A kiosk's view of its control topics (config, time)."""

    def __init__(self, port, dev, secret):
        self.got = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev)
        self.c.username_pw_set(dev, secret)
        self.dev = dev
        self.c.on_connect = lambda c, u, f, rc, p=None: [
            c.subscribe(w.topic(dev, "config"), 1), c.subscribe(w.topic(dev, "time"), 1)]
        self.c.on_message = lambda c, u, m: self.got.append((m.topic.rsplit("/", 1)[1],
                                                             m.payload, m.retain))
        self.c.connect("127.0.0.1", port, 10)
        self.c.loop_start()

    def kinds(self, kind):
        return [p for k, p, _ in list(self.got) if k == kind]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def http_json(url, headers=None):
    return api_get(url, headers or {}, timeout=5)


def test_serve_with_the_embedded_broker_end_to_end(tmp_path, capsys):
    db = tmp_path / "b.db"
    keys = make_registry(db, 2)
    hdr = api_headers(db)
    a, b = sorted(keys)
    port = realparts.free_port()
    srv = Server(db, "--broker-port", str(port), "--http", "127.0.0.1:0").start()
    views = []
    try:
        assert srv.url("mqtt") == "mqtt://127.0.0.1:%d" % port
        http = srv.url("http")
        # Config arrives retained: the site's settings, with time zone offsets.
        view = Listener(port, a, keys[a])
        views.append(view)
        assert wait_until(lambda: view.kinds("config"), 10)
        cfg = w.decode_config(view.kinds("config")[0])
        assert (cfg["site"], cfg["buttons"], cfg["hours"]) == ("mairie-centre", 4, {})
        assert cfg["tz"] and all(off in (60, 120) for _, off in cfg["tz"])
        view.close()
        view = Listener(port, a, keys[a])  # retained: a later subscriber gets it too
        views.append(view)
        assert wait_until(lambda: view.kinds("config"), 10)
        # A site change is republished.
        assert main(["site", "set", "mairie-centre", "--buttons", "3", "--hours",
                     '{"0": [[540, 1020]]}', "--db", str(db)]) == 0
        assert wait_until(lambda: len(view.kinds("config")) >= 2, 10)
        cfg = w.decode_config(view.kinds("config")[-1])
        assert cfg["buttons"] == 3 and cfg["hours"] == {0: [(540, 1020)]}
        view.close()
        # A kiosk that comes online gets the time; its votes are stored and acked.
        k = Kiosk(port, b, keys[b])
        views.append(k)
        assert k.connected.wait(10)
        k.client.subscribe(w.topic(b, "time"), 1)
        got_time = []
        k.client.message_callback_add(w.topic(b, "time"),
                                      lambda c, u, m: got_time.append(w.decode_time(m.payload)))
        k.publish_raw("status", w.encode_json({"state": "online", "boot": 3, "fw": "1.2.0"}),
                      retain=True)
        assert wait_until(lambda: got_time, 10)
        assert abs(got_time[0] - time.time() * 1000) < 60_000
        k.press(120)
        assert k.sync(30)
        k.publish_raw("telemetry", w.encode_json({
            "boot": 3, "uptime_s": 60, "journal": 0, "battery_pct": 77, "clock": "server"}))
        k.publish_raw("votes", b"\x01garbage")
        assert wait_until(lambda: http_json(http + "/api/v1/kiosks", hdr)[1]["kiosks"][1]
                          ["rejected"] == 1, 10)
        status, body = http_json(http + "/api/v1/kiosks", hdr)
        kb = body["kiosks"][1]
        assert (kb["id"], kb["online"], kb["fw"], kb["battery_pct"], kb["clock"],
                kb["acked_seq"]) == (b, True, "1.2.0", 77, "server", 120)
        assert "TruncatedError" in kb["last_reject"] or "Error" in kb["last_reject"]
        status, body = http_json(http + "/api/v1/sites/mairie-centre/votes?limit=1000", hdr)
        assert len(body["votes"]) == 120
        health = http_json(http + "/healthz")[1]
        assert health["mqtt"]["connected"] and health["mqtt"]["new_votes"] == 120
        assert health["mqtt"]["url"] == "mqtt://127.0.0.1:%d" % port  # no credentials
        # The will: the kiosk vanishes, the server marks it offline.
        k.client.loop_stop()
        k.client.socket().close()
        assert wait_until(lambda: not http_json(http + "/api/v1/kiosks", hdr)[1]["kiosks"][1]
                          ["online"], 30)
    finally:
        for v in views:
            try:
                v.close()
            except Exception:
                pass
        assert srv.terminate() == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM votes").fetchone()[0] == 120
    assert registry.list_kiosks(conn)[1]["state"] == "offline"
