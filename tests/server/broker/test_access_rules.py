"""One access-rule suite, two brokers: a real Mosquitto running the drop-in of
`borne broker-config` and the embedded broker of `borne serve`, each with a
running server (which publishes every kiosk's retained config). Every case
answers a value; both brokers must give the expected one."""
import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from protocol import server_wire as w
from tests import realparts
from tests.server_support import (
    T0,
    Server,
    borne,
    make_registry,
    secured_mosquitto,
    server_secret,
)

pytestmark = pytest.mark.timeout(120)

WORKER = "borne-ingest-2"  # a server account the running server leaves free


class Probe:
    """An MQTT 3.1.1 client that records the connection's answer, the
    SUBACK codes and every message (topic, payload, retain)."""

    def __init__(self, port, user, password, client_id=None):
        self.got = []
        self.answer = None
        self.answered = threading.Event()
        self.closed = threading.Event()
        self.subacks = {}
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or user or "")
        if user is not None:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.closed.set()
        self.c.on_subscribe = lambda c, u, mid, codes, p=None: self.subacks.__setitem__(
            mid, [not rc.is_failure for rc in codes])
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload, m.retain))
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        self.answered.wait(5)

    def _on_connect(self, client, userdata, flags, rc, props=None):
        self.answer = not rc.is_failure
        if rc.is_failure:
            client.disconnect()
        self.answered.set()

    @property
    def connected(self):
        return bool(self.answer)

    def subscribe(self, topic):
        """True if the broker granted it."""
        _, mid = self.c.subscribe(topic, qos=1)
        realparts.poll(lambda: mid in self.subacks, timeout=5, what="SUBACK")
        return self.subacks[mid][0]

    def publish(self, topic, payload, retain=False):
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(5)
        except (RuntimeError, ValueError):
            pass  # the broker closed the connection

    def topics(self):
        return [t for t, _p, _r in self.got]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class World:
    def __init__(self, kind, tmp):
        self.kind = kind
        self.db = str(tmp / "borne.db")
        keys = make_registry(self.db, kiosks=6, site="s1")
        (self.a, self.b, self.r, self.v, self.e, self.f) = sorted(keys.items())
        self.secret = server_secret(self.db)
        borne("kiosk", "revoke", self.v[0], "--db", self.db)
        if kind == "mosquitto":
            self.broker = secured_mosquitto(self.db)
            self.port = self.broker.port
            self.server = Server(self.db, "--http", "127.0.0.1:0", "--mqtt",
                                 "mqtt://127.0.0.1:%d" % self.port).start()
        else:
            self.broker = None
            self.port = realparts.free_port()
            self.server = Server(self.db, "--broker-port", str(self.port),
                                 "--http", "127.0.0.1:0").start()
        # The server has published each trusted kiosk's retained config.
        watcher = self.probe(WORKER, self.secret)
        watcher.subscribe("borne/v1/+/config")
        realparts.poll(lambda: {w.topic(k, "config") for k in self.trusted()}
                       <= set(watcher.topics()), timeout=30, what="the retained configs")
        watcher.close()
        self.probes = []

    def trusted(self):
        return [k[0] for k in (self.a, self.b, self.r, self.e, self.f)]

    def probe(self, user, password, client_id=None):
        p = Probe(self.port, user, password, client_id)
        if hasattr(self, "probes"):
            self.probes.append(p)
        return p

    def server_probe(self, *subscriptions):
        p = self.probe(WORKER, self.secret)
        assert p.connected
        for s in subscriptions:
            assert p.subscribe(s)
        return p

    def close_probes(self):
        for p in self.probes:
            p.close()
        self.probes = []

    def close(self):
        self.close_probes()
        self.server.stop()
        if self.broker:
            self.broker.stop()


@pytest.fixture(scope="module", params=["mosquitto", "embedded"])
def world(request, tmp_path_factory):
    wd = World(request.param, tmp_path_factory.mktemp(request.param))
    yield wd
    wd.close()


def settle():
    time.sleep(0.5)


def delivered(world, sender, topic, payload=b"probe", retain=False):
    """Publish as sender; return whether a server account subscribed to the
    whole tree receives it (the marker after it proves nothing is in flight)."""
    srv = world.server_probe("borne/v1/#")
    sender.publish(topic, payload, retain)
    marker = (w.topic(world.a[0], "ack"), b"marker-%f" % time.monotonic())
    srv.publish(*marker)
    realparts.poll(lambda: marker[0] in srv.topics(), timeout=10, what="the marker")
    return (topic, payload) in [(t, p) for t, p, _r in srv.got]


# --- credentials -----------------------------------------------------------

def case_kiosk_good_secret(world):
    return world.probe(*world.a).connected


def case_kiosk_wrong_secret(world):
    return world.probe(world.a[0], "not the secret").connected


def case_unknown_user(world):
    return world.probe("nobody-here", "whatever").connected


def case_anonymous(world):
    return world.probe(None, None, client_id="anon-1").connected


def case_kiosk_secret_for_another_kiosk(world):
    return world.probe(world.b[0], world.a[1]).connected


def case_server_account(world):
    return world.probe(WORKER, world.secret).connected


def case_revoked_before_start(world):
    return world.probe(*world.v).connected


# --- publications ------------------------------------------------------------

def case_own_votes_reach_the_server(world):
    k = world.probe(*world.a)
    return delivered(world, k, w.topic(world.a[0], "votes"),
                     w.encode_batch(world.a[0], 1, [(1, T0, 2, 4, 0)]))


def case_foreign_votes_are_dropped(world):
    k = world.probe(*world.a)
    return delivered(world, k, w.topic(world.b[0], "votes"), b"forged by A")


def case_foreign_status_is_dropped(world):
    k = world.probe(*world.a)
    return delivered(world, k, w.topic(world.b[0], "status"), b'{"v":1,"state":"offline"}')


def case_kiosk_cannot_write_its_own_ack(world):
    k = world.probe(*world.a)
    return delivered(world, k, w.topic(world.a[0], "ack"), b"self ack")


def case_foreign_config_never_reaches_its_kiosk(world):
    a, b = world.probe(*world.a), world.probe(*world.b)
    assert b.subscribe(w.topic(world.b[0], "config"))
    settle()
    b.got.clear()
    a.publish(w.topic(world.b[0], "config"), b"forged config")
    srv = world.server_probe()
    srv.publish(w.topic(world.b[0], "config"), b"marker")
    realparts.poll(lambda: b.got, timeout=10, what="the marker")
    return [p for _t, p, _r in b.got]


# --- subscriptions -------------------------------------------------------------

def case_subscribe_own_ack(world):
    return world.probe(*world.a).subscribe(w.topic(world.a[0], "ack"))


def case_subscribe_foreign_ack(world):
    return world.probe(*world.a).subscribe(w.topic(world.b[0], "ack"))


def case_subscribe_every_config(world):
    return world.probe(*world.a).subscribe("borne/v1/+/config")


def case_subscribe_everything(world):
    return world.probe(*world.a).subscribe("#")


def case_subscribe_own_votes(world):
    return world.probe(*world.a).subscribe(w.topic(world.a[0], "votes"))


# --- deliveries and retained messages -------------------------------------------

def case_server_ack_reaches_its_kiosk_only(world):
    a, b = world.probe(*world.a), world.probe(*world.b)
    assert a.subscribe(w.topic(world.a[0], "ack")) and b.subscribe(w.topic(world.b[0], "ack"))
    world.server_probe().publish(w.topic(world.b[0], "ack"), b"for B")
    realparts.poll(lambda: b.got, timeout=10, what="the ack")
    settle()
    return (a.topics(), b.topics())


def case_no_foreign_retained_message_on_connect(world):
    # E publishes a retained status; F, connecting afterwards and reading its
    # own topics, receives its own retained config and nothing of E's.
    e = world.probe(*world.e)
    e.publish(w.topic(world.e[0], "status"), b'{"v":1,"state":"online"}', retain=True)
    f = world.probe(*world.f)
    for name in ("ack", "config", "time"):
        assert f.subscribe(w.topic(world.f[0], name))
    realparts.poll(lambda: f.got, timeout=10, what="F's own config")
    settle()
    return sorted({t for t in f.topics()})


def case_retained_status_reaches_the_server(world):
    e = world.probe(*world.e)
    e.publish(w.topic(world.e[0], "status"), b'{"v":1,"state":"online"}', retain=True)
    srv = world.server_probe("borne/v1/+/status")
    realparts.poll(lambda: w.topic(world.e[0], "status") in srv.topics(), timeout=10,
                   what="E's retained status")
    return True


def case_own_retained_config_on_subscribe(world):
    a = world.probe(*world.a)
    assert a.subscribe(w.topic(world.a[0], "config"))
    realparts.poll(lambda: a.got, timeout=10, what="A's retained config")
    return json.loads(a.got[0][1])["site"]


def case_foreign_last_will_is_never_published(world):
    # A connects with a last will on B's config, then vanishes without a
    # DISCONNECT: B gets only the server's marker after it.
    b = world.probe(*world.b)
    assert b.subscribe(w.topic(world.b[0], "config"))
    settle()
    b.got.clear()
    a = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=world.a[0])
    a.username_pw_set(*world.a)
    a.will_set(w.topic(world.b[0], "config"), b"forged will", qos=1, retain=True)
    answer = {}
    a.on_connect = lambda c, u, f, rc, p=None: answer.setdefault("ok", not rc.is_failure)
    a.connect("127.0.0.1", world.port)
    a.loop_start()
    realparts.poll(lambda: answer, timeout=5, what="CONNACK")
    a.socket().close()  # gone without a DISCONNECT: the broker's turn to send the will
    a.loop_stop()
    time.sleep(1.5)
    world.server_probe().publish(w.topic(world.b[0], "config"), b"marker")
    realparts.poll(lambda: b.got, timeout=10, what="the marker")
    settle()
    return (answer["ok"], [p for _t, p, _r in b.got])


# --- updates over the air ------------------------------------------------------------

def case_own_fetch_and_update_reach_the_server(world):
    k = world.probe(*world.a)
    return (delivered(world, k, w.topic(world.a[0], "fetch"), b'{"v":1}'),
            delivered(world, k, w.topic(world.a[0], "update"), b'{"v":1}'))


def case_foreign_fetch_and_update_are_dropped(world):
    k = world.probe(*world.a)
    return (delivered(world, k, w.topic(world.b[0], "fetch"), b"forged fetch"),
            delivered(world, k, w.topic(world.b[0], "update"), b"forged update"))


def case_subscribe_own_and_foreign_offer_and_chunks(world):
    a = world.probe(*world.a)
    return [a.subscribe(w.topic(dev, n)) for dev in (world.a[0], world.b[0])
            for n in ("ota", "chunk")]


def case_kiosk_cannot_write_offers_or_chunks(world):
    k = world.probe(*world.a)
    return (delivered(world, k, w.topic(world.a[0], "ota"), b"self offer"),
            delivered(world, k, w.topic(world.b[0], "chunk"), b"forged chunk"))


def case_server_chunk_reaches_its_kiosk(world):
    a = world.probe(*world.a)
    assert a.subscribe(w.topic(world.a[0], "chunk"))
    world.server_probe().publish(w.topic(world.a[0], "chunk"), b"piece")
    realparts.poll(lambda: a.got, timeout=10, what="the chunk")
    return [p for _t, p, _r in a.got]


# --- server topics and revocation ----------------------------------------------------

def case_kiosk_cannot_reach_broker_control(world):
    a = world.probe(*world.a)
    a.publish("$CONTROL/dynamic-security/v1", json.dumps({"commands": [
        {"command": "createClient", "username": "intruder", "password": "pw"}]}).encode())
    settle()
    return world.probe("intruder", "pw").connected


def case_revoked_while_connected(world):
    # R is connected, then revoked: what it publishes no longer reaches the
    # server and it cannot come back.
    r = world.probe(*world.r)
    assert r.connected
    borne("kiosk", "revoke", world.r[0], "--db", world.db)
    settle()
    late = delivered(world, r, w.topic(world.r[0], "votes"),
                     w.encode_batch(world.r[0], 1, [(1, T0, 2, 4, 0)]))
    return (late, world.probe(*world.r).connected)


CASES = [
    (case_kiosk_good_secret, True),
    (case_kiosk_wrong_secret, False),
    (case_unknown_user, False),
    (case_anonymous, False),
    (case_kiosk_secret_for_another_kiosk, False),
    (case_server_account, True),
    (case_revoked_before_start, False),
    (case_own_votes_reach_the_server, True),
    (case_foreign_votes_are_dropped, False),
    (case_foreign_status_is_dropped, False),
    (case_kiosk_cannot_write_its_own_ack, False),
    (case_foreign_config_never_reaches_its_kiosk, [b"marker"]),
    (case_subscribe_own_ack, True),
    (case_subscribe_foreign_ack, False),
    (case_subscribe_every_config, False),
    (case_subscribe_everything, False),
    (case_subscribe_own_votes, False),
    (case_server_ack_reaches_its_kiosk_only, None),  # filled below
    (case_no_foreign_retained_message_on_connect, None),
    (case_retained_status_reaches_the_server, True),
    (case_own_retained_config_on_subscribe, "s1"),
    (case_foreign_last_will_is_never_published, (True, [b"marker"])),
    (case_own_fetch_and_update_reach_the_server, (True, True)),
    (case_foreign_fetch_and_update_are_dropped, (False, False)),
    (case_subscribe_own_and_foreign_offer_and_chunks, [True, True, False, False]),
    (case_kiosk_cannot_write_offers_or_chunks, (False, False)),
    (case_server_chunk_reaches_its_kiosk, [b"piece"]),
    (case_kiosk_cannot_reach_broker_control, False),
    (case_revoked_while_connected, (False, False)),
]


def expected(world, case, answer):
    if case is case_server_ack_reaches_its_kiosk_only:
        return ([], [w.topic(world.b[0], "ack")])
    if case is case_no_foreign_retained_message_on_connect:
        return [w.topic(world.f[0], "config")]
    return answer


@pytest.mark.parametrize("case,answer", CASES, ids=[c.__name__[5:] for c, _ in CASES])
def test_access_rule(world, case, answer):
    try:
        assert case(world) == expected(world, case, answer)
    finally:
        world.close_probes()
