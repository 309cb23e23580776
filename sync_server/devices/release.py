"""Signed firmware releases: `borne firmware key` and `borne firmware publish`.

key: an Ed25519 key pair made with the `cryptography` library. The private
key (PKCS#8 PEM) is created with mode 0600 and never overwritten; the public
key is written beside it as 64 hex digits (`NAME.pub`), the form
`borne provision --fw-key` pins on a kiosk.

publish: a folder made by `borne firmware build` becomes a release folder
holding `release.bin` (every firmware file but main.py, one after the other
in the manifest's order) and `release.json`: the manifest (firmware version,
and each file's name, size and SHA-256, and the whole image's size and
SHA-256) as the exact bytes signed, the Ed25519 signature over them, the
public key and the release id (the first 16 hex digits of the manifest's
SHA-256). main.py is the kiosk's boot selector: it stays as `borne firmware
deploy` left it, so an update can never break the step that rolls it back.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from protocol.ota_wire import MAX_MANIFEST
from sync_server.devices.firmware import load_build
from sync_server.errors import CliError

RELEASE_JSON = "release.json"
RELEASE_BIN = "release.bin"
# Not in a release: the boot selector, updated over USB only.
BOOT_FILES = ("main.py",)


@dataclass(frozen=True)
class Release:
    id: str
    fw: str
    manifest: bytes  # the signed bytes
    sig: bytes
    key: bytes  # raw Ed25519 public key
    blob: bytes

    @property
    def files(self) -> list[list[Any]]:
        return json.loads(self.manifest)["files"]


def make_key(path: str) -> str:
    """Create the signing key at `path` (mode 0600) and `path`.pub; return
    the public key in hex."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CliError("%s exists: a signing key is never overwritten (kiosks trust it)"
                       % path) from None
    except OSError as e:
        raise CliError("cannot create %s: %s" % (path, e.strerror or e)) from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = public_hex(key)
    with open(path + ".pub", "w") as f:
        f.write(pub + "\n")
    return pub


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw).hex()


def load_key(path: str) -> Ed25519PrivateKey:
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except OSError as e:
        raise CliError("cannot read signing key %s: %s" % (path, e.strerror or e)) from None
    except ValueError:
        raise CliError("%s is not a PEM private key (make one with `borne firmware key`)"
                       % path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CliError("%s is not an Ed25519 key" % path)
    return key


def read_public_key(path: str) -> str:
    """The public key in `path` (64 hex digits, as `borne firmware key` writes it)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        raise CliError("cannot read %s: %s" % (path, e.strerror or e)) from None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise CliError("%s is not an Ed25519 public key (64 hex digits, the .pub file of "
                       "`borne firmware key`)" % path)
    return raw.hex()


def release_id(manifest: bytes) -> str:
    return hashlib.sha256(manifest).hexdigest()[:16]


def publish(build_dir: str, key_path: str, out: str) -> Release:
    key = load_key(key_path)
    fw, files = load_build(build_dir)
    names = sorted(n for n in files if n not in BOOT_FILES)
    blob = b"".join(open(os.path.join(build_dir, n), "rb").read() for n in names)
    manifest = json.dumps({
        "fw": fw, "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
        "files": [[n, files[n]["size"], files[n]["sha256"]] for n in names],
    }, separators=(",", ":"), sort_keys=True).encode()
    if len(manifest) > MAX_MANIFEST:
        raise CliError("the manifest of %d files takes %d bytes: a kiosk reads at most %d"
                       % (len(names), len(manifest), MAX_MANIFEST))
    rel = Release(release_id(manifest), fw, manifest, key.sign(manifest),
                  bytes.fromhex(public_hex(key)), blob)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, RELEASE_BIN), "wb") as f:
        f.write(blob)
    with open(os.path.join(out, RELEASE_JSON), "w") as f:
        json.dump({"id": rel.id, "fw": fw, "manifest": manifest.decode(),
                   "sig": rel.sig.hex(), "key": rel.key.hex()}, f, indent=2)
        f.write("\n")
    return rel


def load(folder: str) -> Release:
    """A release folder, its signature and image checked."""
    path = os.path.join(folder, RELEASE_JSON)
    try:
        with open(path) as f:
            meta = json.load(f)
        with open(os.path.join(folder, RELEASE_BIN), "rb") as f:
            blob = f.read()
        manifest = meta["manifest"].encode()
        sig = bytes.fromhex(meta["sig"])
        key = bytes.fromhex(meta["key"])
        info = json.loads(manifest)
    except OSError as e:
        raise CliError("cannot read release %s: %s" % (folder, e.strerror or e)) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CliError("%s is not a release (make one with `borne firmware publish`)"
                       % path) from None
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, manifest)
    except (InvalidSignature, ValueError):
        raise CliError("%s: the signature does not match its manifest" % path) from None
    if hashlib.sha256(blob).hexdigest() != info.get("sha256") or len(blob) != info.get("size"):
        raise CliError("%s does not match its manifest: publish again" % RELEASE_BIN)
    return Release(release_id(manifest), info["fw"], manifest, sig, key, blob)


def cmd_key(args: argparse.Namespace) -> None:
    pub = make_key(args.out)
    print("signing key %s (keep it secret, mode 0600); public key %s.pub: %s"
          % (args.out, args.out, pub))


def cmd_publish(args: argparse.Namespace) -> None:
    rel = publish(args.dir, args.key, args.out)
    print("release %s: firmware %s, %d files, %d bytes, signed; in %s"
          % (rel.id, rel.fw, len(rel.files), len(rel.blob), args.out))
