"""Who may publish and read which topic: the rules of the embedded broker,
which `dynsec.roles` states in Mosquitto's dynamic-security terms."""
from protocol import server_wire as w
from sync_server.storage.credentials import SERVER_USER

KIOSK_WRITE = ("votes", "status", "telemetry", "fetch", "update")
KIOSK_READ = ("ack", "config", "time", "ota", "chunk")
INGEST_PREFIX = "borne-ingest-"


def server_users(workers: int) -> list[str]:
    """The server's broker accounts: the main server and `workers` ingest
    workers. Each needs its own name because the client id is the user name."""
    return [SERVER_USER] + ["%s%d" % (INGEST_PREFIX, i) for i in range(1, workers + 1)]


def is_server_user(username: str | None) -> bool:
    if username == SERVER_USER:
        return True
    rest = (username or "")[len(INGEST_PREFIX):]
    return (username or "").startswith(INGEST_PREFIX) and rest.isdigit()


def allowed(username: str | None, topic: str, write: bool) -> bool:
    """May `username` publish (write=True) to, or receive from, `topic`?
    Kiosks: only their own topics, in the protocol's direction."""
    if is_server_user(username):
        return topic.startswith(w.TOPIC_ROOT) or topic.startswith("$share/")
    parsed = w.parse_topic(topic or "")
    if not parsed or parsed[0] != username:
        return False
    return parsed[1] in (KIOSK_WRITE if write else KIOSK_READ)
