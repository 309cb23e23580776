"""`borne broker-config --out DIR`: a Mosquitto configuration fragment,
password file and ACL for every trusted kiosk and the server's accounts."""
from sync_server.broker import mosquitto
from sync_server.commands.common import data_command
from sync_server.errors import CliError
from sync_server.storage import registry
from sync_server.storage.connection import connect
from sync_server.storage.credentials import SERVER_USER


def add_commands(sub):
    p = data_command(sub, "broker-config", run,
                       help="write Mosquitto config, password file and ACL for the kiosks")
    p.add_argument("--out", required=True, help="directory to write into")
    p.add_argument("--workers", type=int, default=4,
                   help="ingest worker accounts borne-ingest-1..N (default 4)")


def run(args):
    if args.workers < 0:
        raise CliError("--workers must be 0 or more")
    conn = connect(args.db)
    out = mosquitto.write(conn, args.out, args.workers)
    n = len(registry.trusted_kiosks(conn))
    print("wrote %s/{mosquitto.conf,passwd,acl}: %d kiosks, server account %s"
          % (out, n, SERVER_USER))
    print("include mosquitto.conf in the broker's config, reload it (SIGHUP), then run"
          " `borne serve --mqtt mqtt://HOST:PORT`")
