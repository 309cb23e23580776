import pytest

from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts
from tests.server.devices.support import SITE, start_kiosk
from tests.server_support import Server


@pytest.fixture
def server(tmp_path):
    """`borne serve` with its embedded broker on a database with one site (3 buttons,
    no press lockout)."""
    db = tmp_path / "borne.db"
    conn = connect(db)
    registry.add_site(conn, SITE, "Mairie annexe nord", buttons=3)
    registry.set_site(conn, SITE, lockout_s=0)
    conn.close()
    mqtt_port = realparts.free_port()
    srv = Server(db, "--http", "127.0.0.1:0", "--broker-port", str(mqtt_port)).start()
    yield {"db": db, "http": srv.url("http"), "broker": "mqtt://127.0.0.1:%d" % mqtt_port}
    srv.stop()


@pytest.fixture
def kiosk(tmp_path):
    """An unprovisioned simulated kiosk, powered on; its console answers."""
    k = start_kiosk(tmp_path / "kiosk")
    yield k
    k.close()
