"""Each kiosk's firmware and update state, and the rollouts, as the server
shows them: the JSON API (`/api/v1/firmware`, read scope) and the managers'
page (`/manager/firmware`, French and English), from the states the kiosks
reported; a failure report past the threshold stops the rollout."""
import asyncio

from aiohttp.test_utils import TestClient, TestServer

from protocol import ota_wire as ow
from sync_server.ingest.writer import Ingest
from sync_server.storage import firmware_updates
from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in
from tests.server_support import api_headers, make_registry

RID = "00112233aabbccdd"


def fleet(tmp_path):
    db = tmp_path / "b.db"
    devs = sorted(make_registry(db, 4))
    conn = open_db(db).conn
    access.add_manager(open_db(db), "qualite", PASSWORD)
    with conn:
        firmware_updates.add_release(conn, RID, "9.1.0", b"{}", b"\0" * 64, b"\0" * 32,
                                     b"x" * 5000)
        firmware_updates.start_rollout(conn, RID, devs[:3], "share 0.75", 0.4, 3, 600)
    ing = Ingest(db)
    for dev, state, got in ((devs[0], "ok", 5000), (devs[1], "downloading", 2048),
                            (devs[2], "rolled_back", 5000)):
        ing.process([("borne/v1/%s/update" % dev, ow.encode_update(
            "9.1.0" if state == "ok" else "1.0.0", state, RID, got, 5000,
            "no healthy report within 3 boots" if state == "rolled_back" else None), True)])
    ing.close()
    return db, devs


def test_api_and_manager_page_show_versions_and_states(tmp_path):
    db, devs = fleet(tmp_path)
    headers = api_headers(db)

    async def go():
        async with TestClient(TestServer(make_app(db))) as client:
            r = await client.get("/api/v1/firmware", headers=headers)
            api = await r.json()
            anon = (await client.get("/api/v1/firmware")).status
            await log_in(client)
            fr = await (await client.get("/manager/firmware")).text()
            en = await (await client.get("/manager/firmware?lang=en")).text()
            return api, anon, fr, en
    api, anon, fr, en = asyncio.run(go())
    assert anon == 401
    states = {k["device_id"]: (k["fw"], k["state"], k["got"]) for k in api["kiosks"]}
    assert states[devs[0]] == ("9.1.0", "ok", 5000)
    assert states[devs[1]] == ("1.0.0", "downloading", 2048)
    assert states[devs[2]][1] == "rolled_back"
    assert states[devs[3]][1] == "idle"  # not in the cohort
    (r,) = api["rollouts"]
    assert (r["kiosks"], r["done"], r["failed"], r["state"]) == (3, 1, 1, "active")
    assert "Micrologiciel des bornes" in fr and "revenue à l" in fr
    assert "no healthy report within 3 boots" in fr and "40 %" in fr
    assert "Kiosk firmware" in en and "rolled back" in en and "downloading" in en


def test_failures_past_the_threshold_stop_the_rollout_and_withdraw_offers(tmp_path):
    from sync_server.ingest import ota_offers
    db, devs = fleet(tmp_path)
    conn = open_db(db).conn
    assert set(ota_offers.offers(conn)) == set(devs[:3])  # 1 failed of 3: not past 40%
    ing = Ingest(db)
    out = ing.process([("borne/v1/%s/update" % devs[1], ow.encode_update(
        "1.0.0", "failed", RID, 0, 5000, "image hash mismatch 3 times"), True)])
    # A fetch for the release once stopped is refused, counted.
    refused = ing.process([("borne/v1/%s/fetch" % devs[1], b'{"v":1,"id":"%s","off":0,"n":64}'
                            % RID.encode(), False)])
    ing.close()
    assert out.stopped_rollouts and "2 of 3 kiosks failed" in out.stopped_rollouts[0][1]
    (r,) = firmware_updates.rollouts(conn)
    assert r["state"] == "stopped" and "2 of 3" in r["reason"]
    assert ota_offers.offers(conn) == {}
    assert refused.refused == {"not_offered": 1} and not refused.replies


def test_stop_by_hand_and_status_on_the_command_line(tmp_path):
    import json
    import subprocess

    from tests.server_support import BORNE
    db, devs = fleet(tmp_path)

    def borne(*args):
        return subprocess.run([BORNE, "firmware", *args, "--db", str(db)], capture_output=True,
                              text=True, timeout=60)
    out = borne("status").stdout
    assert "rollout 1 active: firmware 9.1.0 (%s) to share 0.75; 3 kiosks, 1 updated, " \
           "1 failed" % RID in out
    assert "%s mairie-centre firmware 1.0.0 downloading 2048/5000 bytes" % devs[1] in out
    r = borne("stop", "1")
    assert r.returncode == 0 and "rollout 1 stopped" in r.stdout
    r = borne("stop", "1")
    assert r.returncode != 0 and "no active rollout 1" in r.stderr
    st = json.loads(borne("status", "--json").stdout)
    assert st["rollouts"][0]["state"] == "stopped"
    assert st["rollouts"][0]["reason"] == "stopped by hand"
