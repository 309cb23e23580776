"""The certificate authority kiosks pin at provisioning and
the broker's certificate it signs, made with the `cryptography` library.

Files in the TLS folder: `ca.crt` and `ca.key` (the CA: keep the key off the
broker if you can), `broker.crt` and `broker.key` (for Mosquitto's TLS
listener or the embedded broker). Keys are ECDSA P-256, which every kiosk's
mbedTLS verifies quickly; private keys are written 0600."""
import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync_server.broker.url import parse_host_port
from sync_server.errors import CliError

CA_DAYS = 3650
BROKER_DAYS = 825
CA_CERT, CA_KEY = "ca.crt", "ca.key"
BROKER_CERT, BROKER_KEY = "broker.crt", "broker.key"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Borne"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def make_ca(cn: str = "Borne kiosk CA",
            days: int = CA_DAYS) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """(certificate, private key) of a new self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_server_cert(ca_cert: x509.Certificate, ca_key: CertificateIssuerPrivateKeyTypes,
                     hosts: Sequence[str], days: int = BROKER_DAYS,
                     not_before: datetime.datetime | None = None,
                     ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """(certificate, private key) for a TLS server reached as `hosts`
    (names or IP addresses), signed by the CA. not_before: a datetime (UTC)
    to start the validity elsewhere than now."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - datetime.timedelta(minutes=5)
    alt: list[x509.GeneralName] = []
    for h in hosts:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    cert = (x509.CertificateBuilder()
            .subject_name(_name(hosts[0])).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path, data, mode):
    tmp = str(path) + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def load_ca(folder: str | os.PathLike[str],
            ) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None:
    """(certificate, key) of the CA in folder, or None when there is none."""
    d = Path(folder)
    if not (d / CA_CERT).exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate((d / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((d / CA_KEY).read_bytes(), None)
    except (OSError, ValueError) as e:
        raise CliError("cannot read the CA in %s: %s" % (folder, e)) from None
    # The key `init` wrote: an EC key, which can sign certificates.
    return cert, cast(CertificateIssuerPrivateKeyTypes, key)


def init(folder: str | os.PathLike[str], hosts: Sequence[str],
         days: int = BROKER_DAYS) -> tuple[bool, x509.Certificate]:
    """Create the CA unless the folder has one, then a new broker
    certificate for hosts. Return (ca created?, broker certificate)."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    ca = load_ca(d)
    created = ca is None
    if ca is None:
        ca = make_ca()
        _write(d / CA_KEY, key_pem(ca[1]), 0o600)
        _write(d / CA_CERT, cert_pem(ca[0]), 0o644)
    cert, key = make_server_cert(ca[0], ca[1], hosts, days)
    _write(d / BROKER_KEY, key_pem(key), 0o600)
    _write(d / BROKER_CERT, cert_pem(cert), 0o644)
    return created, cert


def broker_files(folder: str | os.PathLike[str]) -> dict[str, bytes]:
    """{file name: bytes} of the broker's certificate and key in folder."""
    d = Path(folder)
    try:
        return {BROKER_CERT: (d / BROKER_CERT).read_bytes(),
                BROKER_KEY: (d / BROKER_KEY).read_bytes()}
    except OSError as e:
        raise CliError("no broker certificate in %s (%s): run `borne tls init --dir %s "
                       "--host NAME` first" % (folder, e.strerror, folder)) from None


def amqtt_listener(folder: str | os.PathLike[str], host: str, port: int) -> dict[str, Any]:
    """The embedded broker's TLS listener, with the broker certificate of
    folder."""
    broker_files(folder)  # a clear message when they are missing
    d = Path(folder).resolve()
    return {"type": "tcp", "bind": "%s:%d" % (host, port), "ssl": True,
            "certfile": str(d / BROKER_CERT), "keyfile": str(d / BROKER_KEY)}


def parse_listener(text: str, default_host: str) -> tuple[str, int]:
    """[HOST:]PORT -> (host, port); raise CliError."""
    try:
        host, port = parse_host_port(text, default_host)
    except ValueError:
        port = 0
    if not port:  # a TLS listener kiosks are told about needs a fixed port
        raise CliError("TLS listener %r: give [HOST:]PORT, e.g. 8883 or 0.0.0.0:8883" % text)
    return host, port


def ca_der(path: str | os.PathLike[str]) -> bytes:
    """The DER bytes of the CA certificate in a PEM or DER file."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CliError("cannot read CA file %s: %s" % (path, e.strerror)) from None
    try:
        cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise CliError("%s is not a certificate (PEM or DER)" % path) from None
    bc = None
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        pass
    if not (bc and bc.ca):
        raise CliError("%s is not a CA certificate: give the ca.crt of `borne tls init`"
                       % path)
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(der: bytes) -> str:
    """As the kiosk shows it: the first 16 hex digits of the SHA-256."""
    import hashlib
    return hashlib.sha256(der).hexdigest()[:16]
