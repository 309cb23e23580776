# MQTT over TLS: the kiosk trusts only the CA pinned at provisioning
# (`borne provision --ca`, the console's `set ca`), and checks the broker's
# host name. Imported only when the broker URL is mqtts:// and to show or
# pin the CA, so a plain-TCP lab kiosk does not pay for it.
import os

CA_FILE = "/ca.der"


def ca(base):
    """The pinned CA certificate (DER), or None."""
    try:
        with open(base + CA_FILE, "rb") as f:
            return f.read()
    except OSError:
        return None


def shown(base):
    der = ca(base)
    return fingerprint(der) if der else None


def pin(base, b64):
    """Pin the CA given in base64 (DER), checked by parsing it, or remove
    it ("-"). Return its fingerprint (None once removed)."""
    path = base + CA_FILE
    if b64 == "-":
        try:
            os.remove(path)
        except OSError:
            pass
        return None
    der = parse(b64)
    with open(path + ".new", "wb") as f:
        f.write(der)
    os.rename(path + ".new", path)  # the old CA or the new one, never half
    return fingerprint(der)


def parse(b64):
    """The CA given in base64 (DER) as bytes, once mbedTLS has parsed it."""
    import binascii
    try:
        der = binascii.a2b_base64(b64)
    except ValueError:
        raise ValueError("CA: not base64") from None
    context(der)  # refuses what mbedTLS cannot parse
    return der


def context(der):
    """A client context that accepts only certificates signed by this CA
    (DER). mbedTLS 3 speaks TLS 1.2 and 1.3 only. Raises ValueError when
    there is no CA or mbedTLS cannot parse it."""
    if not der:
        raise ValueError("no CA pinned on this kiosk: provision it with the broker's CA "
                         "(borne provision --ca)")
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(cadata=der)
    except (OSError, ValueError) as e:
        raise ValueError("CA certificate not usable: %s" % (e,)) from None
    return ctx


def fingerprint(der):
    """First 16 hex digits of the SHA-256 of the CA certificate (DER)."""
    import binascii
    import hashlib
    return binascii.hexlify(hashlib.sha256(der).digest()[:8]).decode()


# What mbedTLS reports when it refuses the broker's certificate (its
# verification messages), and what a technician should check.
_REASONS = (
    ("has expired", "the broker's certificate has expired"),
    ("in the future", "the broker's certificate is not valid yet (check the clocks)"),
    ("does not match", "the broker's certificate is not for host %s"),
    ("not correctly signed", "the broker's certificate is not signed by the CA pinned on "
                             "this kiosk"),
)


def explain(err, host):
    """Raise a one-line OSError saying why the TLS connection failed; a
    plain socket error (positive errno) is left as it is."""
    code = err.args[0] if err.args else None
    if isinstance(code, int) and code > 0:
        return
    text = " ".join(str(a).strip() for a in err.args)
    for key, msg in _REASONS:
        if key in text:
            raise OSError("TLS refused: " + (msg % host if "%s" in msg else msg)) from None
    raise OSError("TLS connection to %s failed: %s" % (host, text)) from None
