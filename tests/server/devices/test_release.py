"""Signed firmware releases: `borne firmware key` makes the Ed25519 key
(private key mode 0600, never overwritten), `borne firmware publish` signs a
build with the `cryptography` library, and the kiosk's own verifier
(firmware/ed25519.py, SHA-512 included) accepts it under the MicroPython
unix port and refuses a changed manifest, a changed signature or another
key."""
import hashlib
import json
import os
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_server.devices import release
from sync_server.errors import CliError
from tests import realparts
from tests.server_support import BORNE


def borne(*args, timeout=120):
    return subprocess.run([BORNE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def published(tmp_path_factory, mpy_cross):
    d = tmp_path_factory.mktemp("release")
    r = borne("firmware", "key", "--out", d / "sign.key")
    assert r.returncode == 0, r.stderr
    r = borne("firmware", "build", "--out", d / "build")
    assert r.returncode == 0, r.stderr
    r = borne("firmware", "publish", "--dir", d / "build", "--key", d / "sign.key",
              "--out", d / "rel")
    assert r.returncode == 0, r.stderr
    return d


def mpy_verify(micropython, tmp_path, cases):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([[p.hex(), m.hex(), s.hex()] for p, m, s in cases]))
    return realparts.run_mpy(micropython, "ed25519_check.py", path, heap="64k")


def test_key_is_private_and_never_overwritten(published):
    key = published / "sign.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    pub = (published / "sign.key.pub").read_text().strip()
    assert release.read_public_key(str(published / "sign.key.pub")) == pub
    assert release.public_hex(release.load_key(str(key))) == pub
    before = key.read_bytes()
    r = borne("firmware", "key", "--out", key)
    assert r.returncode != 0 and "never overwritten" in r.stderr
    assert key.read_bytes() == before


def test_publish_signs_every_file_but_the_boot_selector(published):
    rel = release.load(str(published / "rel"))
    build = json.loads((published / "build" / "manifest.json").read_text())
    names = [f[0] for f in rel.files]
    assert names == sorted(set(build["files"]) - {"main.py"})
    assert rel.key.hex() == (published / "sign.key.pub").read_text().strip()
    off = 0
    for name, size, sha in rel.files:
        data = (published / "build" / name).read_bytes()
        assert rel.blob[off:off + size] == data and hashlib.sha256(data).hexdigest() == sha
        off += size
    assert off == len(rel.blob)
    assert rel.id == hashlib.sha256(rel.manifest).hexdigest()[:16]


def test_a_changed_release_is_refused(published, tmp_path):
    import shutil
    bad = tmp_path / "rel"
    shutil.copytree(published / "rel", bad)
    blob = bytearray((bad / "release.bin").read_bytes())
    blob[100] ^= 1
    (bad / "release.bin").write_bytes(bytes(blob))
    with pytest.raises(CliError, match="does not match its manifest"):
        release.load(str(bad))
    meta = json.loads((published / "rel" / "release.json").read_text())
    meta["manifest"] = meta["manifest"].replace('"fw":"', '"fw":"9')
    (bad / "release.json").write_text(json.dumps(meta))
    with pytest.raises(CliError, match="signature does not match"):
        release.load(str(bad))


def test_kiosk_verifier_under_micropython(published, micropython, tmp_path):
    rel = release.load(str(published / "rel"))
    other = Ed25519PrivateKey.generate()
    other_pub = bytes.fromhex(release.public_hex(other))
    changed = rel.manifest.replace(b'"fw":"', b'"fw":"9')
    sig = bytearray(rel.sig)
    sig[3] ^= 0x10
    cases = [(rel.key, rel.manifest, rel.sig),  # the release as published
             (rel.key, changed, rel.sig),  # a manifest changed after signing
             (rel.key, rel.manifest, bytes(sig)),  # a changed signature
             (other_pub, rel.manifest, rel.sig),  # another key
             (other_pub, rel.manifest, other.sign(rel.manifest)),  # signed by that key
             (rel.key, rel.manifest, rel.sig[:32] + b"\xff" * 32)]  # S out of range
    # SHA-512's padding edges: one block, 111/112 bytes, two blocks.
    for n in (0, 111, 112, 128, 1000):
        msg = bytes(range(256)) * 4
        cases.append((other_pub, msg[:n], other.sign(msg[:n])))
    got = mpy_verify(micropython, tmp_path, cases)
    assert got["results"] == [True, False, False, False, True, False] + [True] * 5
    assert got["sha512"] == [hashlib.sha512(m).hexdigest() for _, m, _ in cases]
    print("ed25519 under the unix port: heap %d B, verify %s ms" % (got["heap"], got["ms"]))


def test_provision_pins_the_public_key(published, tmp_path):
    import argparse

    from sync_server.devices import provision
    args = argparse.Namespace(ca=None, broker=None, wifi=None, wifi_pass=None,
                              fw_key=str(published / "sign.key.pub"))
    lines, expect = provision.network_settings(args)
    pub = (published / "sign.key.pub").read_text().strip()
    assert lines == ["set fwkey " + pub] and expect == {"fwkey": pub}
    (tmp_path / "bad.pub").write_text("not a key\n")
    args.fw_key = str(tmp_path / "bad.pub")
    with pytest.raises(CliError, match="not an Ed25519 public key"):
        provision.network_settings(args)


def test_a_share_picks_the_same_kiosks_for_the_same_release(tmp_path):
    from sync_server.devices import rollout
    from sync_server.storage.connection import connect
    from tests.server_support import make_registry
    db = tmp_path / "b.db"
    devs = sorted(make_registry(db, 10))
    conn = connect(str(db))
    first = rollout.cohort(conn, "00112233aabbccdd", share=0.3)
    assert len(first) == 3 and set(first) <= set(devs)
    assert rollout.cohort(conn, "00112233aabbccdd", share=0.3) == first
    others = {tuple(rollout.cohort(conn, "%016x" % i, share=0.3)) for i in range(8)}
    assert len(others) > 1  # another release, other kiosks
    assert rollout.cohort(conn, "00112233aabbccdd", site="mairie-centre") == devs
    assert rollout.cohort(conn, "00112233aabbccdd", kiosks=devs[:2]) == devs[:2]
    with pytest.raises(CliError, match="not trusted kiosks: nobody"):
        rollout.cohort(conn, "00112233aabbccdd", kiosks=["nobody"])


def test_publish_refuses_a_manifest_a_kiosk_cannot_read(published, tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    files = {}
    for i in range(60):
        name = "module_with_a_long_name_%02d.mpy" % i
        (build / name).write_bytes(b"M%d" % i)
        files[name] = {"sha256": hashlib.sha256(b"M%d" % i).hexdigest(), "size": 2}
    (build / "manifest.json").write_text(json.dumps({"fw": "9.0.0", "files": files}))
    with pytest.raises(CliError, match="a kiosk reads at most 3072"):
        release.publish(str(build), str(published / "sign.key"), str(tmp_path / "rel"))
