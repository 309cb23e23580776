"""`python -m tests.server.ingest.hold_commit PATH serve ...`: the `borne`
command with a server that, at the first commit that acks votes, creates
PATH inside the transaction and waits (at most 60 s) until someone deletes
it: the fault tests kill or stop the server in that window."""
import os
import sys
import time

from sync_server.commands.cli import main
from sync_server.ingest.writer import Ingest


def holding(path):
    held = []

    def before_commit(self, out):
        if out.acks and not held:
            held.append(True)
            with open(path, "w") as f:
                f.write(str(os.getpid()))
            deadline = time.monotonic() + 60
            while os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.05)
    return before_commit


if __name__ == "__main__":
    Ingest.before_commit = holding(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
