"""Registering simulated kiosks with the server, through the same `borne
site add` / `borne kiosk add` commands an operator types."""
import contextlib
import io
import json
import os

from sync_server.errors import CliError


def borne(*argv):
    """Run one `borne` command in this process; return its standard output."""
    from sync_server.commands.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    if status:
        msg = err.getvalue().strip().splitlines() or ["exit status %s" % status]
        raise CliError("borne %s: %s" % (argv[0], msg[-1].replace("borne: error: ", "")))
    return out.getvalue()


def ensure_site(db, site, name=None, **options):
    # A database not made yet has no site: `site add` below makes it.
    sites = json.loads(borne("site", "list", "--json", "--db", db)) if os.path.exists(db) else []
    if any(s["id"] == site for s in sites):
        return False
    argv = ["site", "add", site, "--name", name or site, "--db", db]
    for key, value in options.items():
        if value is not None:
            argv += ["--" + key.replace("_", "-"), value]
    borne(*argv)
    return True


def add_kiosk(db, site, device_id=None):
    """Register one kiosk; return {"device_id", "secret", "site"}."""
    argv = ["kiosk", "add", "--site", site, "--json", "--db", db]
    if device_id:
        argv += ["--id", device_id]
    cred = json.loads(borne(*argv).strip().splitlines()[-1])
    cred["site"] = site
    return cred


def read_credentials(path):
    """Credentials as printed by `borne kiosk add --json`, one JSON object a line."""
    creds = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                cred = json.loads(line)
                if not cred.get("device_id") or not cred.get("secret"):
                    raise ValueError
            except (ValueError, AttributeError):
                raise CliError("%s line %d: expected the JSON line of `borne kiosk add --json`"
                               % (path, n)) from None
            creds.append(cred)
    return creds
