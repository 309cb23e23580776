"""Options shared by the `borne` subcommands."""
import os


def add_db_argument(parser):
    """The `--db PATH` option every data command takes."""
    parser.add_argument("--db", default=os.environ.get("BORNE_DB", "borne.db"),
                        help="SQLite database (default: $BORNE_DB or borne.db)")
