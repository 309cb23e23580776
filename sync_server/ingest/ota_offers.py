"""The retained update offer each kiosk should see (protocol/ota_wire.py),
as the active rollouts say."""
from __future__ import annotations

from protocol import ota_server_wire as ota_wire
from sync_server.storage import firmware_updates
from sync_server.storage.connection import Db

# Bytes of firmware per chunk message: small enough that a kiosk's
# fragmented heap still finds room for one packet.
CHUNK = 1024


def offers(conn: Db) -> dict[str, bytes]:
    """device -> offer payload, for every kiosk an active rollout holds."""
    releases: dict[str, dict | None] = {}
    out = {}
    for dev, (rid, boots, trial_s) in firmware_updates.offers(conn).items():
        if rid not in releases:
            releases[rid] = firmware_updates.get_release(conn, rid)
        rel = releases[rid]
        if rel:
            out[dev] = ota_wire.encode_offer(rid, bytes(rel["manifest"]), bytes(rel["sig"]),
                                             CHUNK, boots, trial_s)
    return out


def ever_offered(conn: Db) -> list[str]:
    """Kiosks of any rollout: at start the server withdraws the offers a
    stopped rollout may have left retained on the broker."""
    return [r[0] for r in conn.execute("SELECT DISTINCT device_id FROM fw_rollout_kiosks")]
