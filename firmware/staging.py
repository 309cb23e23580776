# Provisioning as one change: `begin`, `set ...` (kept in RAM), `show staged`,
# then `commit` writes every file as NAME.new and renames them over the old
# ones; a console cut before `commit` leaves the kiosk as it was. `wipe N`
# takes a kiosk back to blank once told how many votes it drops. Values with
# spaces or quotes come as JSON strings. Loaded only when such a line comes.
import json
import os

import commands
from console import CommandError


def split_words(line):
    """Words separated by spaces; a word starting with a double quote is a
    JSON string, so a Wi-Fi name or password may hold any character."""
    words = []
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if c == " " or c == "\t":
            i += 1
            continue
        j = i + 1
        if c == '"':
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= n:
                raise ValueError("quoted value not closed")
            j += 1
            words.append(json.loads(line[i:j]))
        else:
            while j < n and line[j] != " " and line[j] != "\t":
                j += 1
            words.append(line[i:j])
        i = j
    return words


def command(k, cmd, args):
    s = k.settings
    if cmd == "begin":
        s.staged = (dict(s.prov), None)  # (prov, CA: None kept, b"" removed, DER)
        return {}
    if cmd == "wipe":
        return wipe(k, args)
    if s.staged is None:
        raise CommandError("state", "nothing staged: begin first")
    if cmd == "abort":
        s.staged = None
        return {}
    if cmd == "commit":
        commit(s)
        return commands.public(s)
    return shown(s)  # show staged


def stage_ca(s, b64):
    import tlsca
    der = b"" if b64 == "-" else tlsca.parse(b64)
    s.staged = (s.staged[0], der)
    return {"ca": tlsca.fingerprint(der) if der else None}


def shown(s):
    """`show config` as commit would leave it."""
    prov, ca = s.staged
    live = s.prov
    s.prov = prov
    try:
        out = commands.public(s)
    finally:
        s.prov = live
    if prov.get("site") != live.get("site"):
        out["site"] = prov.get("site")
    if prov.get("buttons"):
        out["buttons"] = prov["buttons"]
    if ca is not None:
        import tlsca
        out["ca"] = tlsca.fingerprint(ca) if ca else None
    return out


def commit(s):
    prov, ca = s.staged
    ca_path = s.base + "/ca.der"
    if ca:
        with open(ca_path + ".new", "wb") as f:
            f.write(ca)
    with open(s.prov_path + ".new", "w") as f:
        json.dump(prov, f)
    # Every file written: now the renames, each one atomic on LittleFS.
    if ca:
        os.rename(ca_path + ".new", ca_path)
    elif ca is not None:
        _remove(ca_path)
    os.rename(s.prov_path + ".new", s.prov_path)
    old = s.prov
    s.prov = prov
    s.staged = None
    if old.get("device") != prov.get("device") or old.get("site") != prov.get("site"):
        forget_config(s)  # the server's config was another kiosk's or site's
    s._apply_prov_defaults()


def forget_config(s):
    import settings
    _remove(s.cfg_path)
    s.config = dict(settings.DEFAULT_CONFIG)
    s.config_raw = b""


def wipe(k, args):
    # "wipe N": N must be the journal's pending votes, so none goes unseen.
    j = k.journal
    if len(args) != 1:
        raise CommandError("usage", "wipe PENDING (the number of votes the journal holds)")
    n = j.pending()
    if int(args[0]) != n:
        raise CommandError("state", "%d vote(s) pending, not %s" % (n, args[0]))
    if n:
        j.ack(j.next_seq - 1)  # dropped, and seqs go on from here: never reused
    s = k.settings
    s.staged = None
    _remove(s.prov_path)
    _remove(s.base + "/ca.der")
    forget_config(s)
    k.board.request_reboot()
    return {"discarded": n}


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
