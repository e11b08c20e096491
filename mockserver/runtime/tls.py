"""A local certificate authority and a server certificate for ``serve --tls``.

The real ``fal-client`` only speaks HTTPS, so a drop-in mock has to as well.
The CA and the server certificate live in a state directory and are reused on
the next start, so a trust bundle built once keeps working. Clients trust the
mock through ``SSL_CERT_FILE`` pointing at ``bundle.pem``: the mock's CA
followed by the system roots (when ``certifi`` is installed), because that
variable replaces the default bundle rather than adding to it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
CA_YEARS = 10
SERVER_DAYS = 825  # the longest validity some TLS stacks accept for leaf certificates
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path  # leaf followed by the CA, as servers send the chain
    server_key: Path
    bundle: Path  # CA + system roots: what SSL_CERT_FILE should point at


def ensure_tls(state_dir: Path) -> TlsFiles:
    """Create the CA and server certificate in ``state_dir``, or reuse valid ones."""
    tls_dir = state_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = TlsFiles(tls_dir / "ca.pem", tls_dir / "server.pem", tls_dir / "server-key.pem", tls_dir / "bundle.pem")
    ca_key_path = tls_dir / "ca-key.pem"
    now = dt.datetime.now(dt.UTC)
    ca = _load_valid(files.ca_cert, ca_key_path, now)
    if ca is None:
        ca = _new_ca(now)
        _write(ca_key_path, _key_pem(ca[1]), private=True)
        _write(files.ca_cert, ca[0].public_bytes(serialization.Encoding.PEM))
        files.server_cert.unlink(missing_ok=True)  # signed by the old CA
    leaf = _load_valid(files.server_cert, files.server_key, now)
    if leaf is None or leaf[0].issuer != ca[0].subject:
        cert, key = _new_server_cert(ca[0], ca[1], now)
        _write(files.server_key, _key_pem(key), private=True)
        chain = cert.public_bytes(serialization.Encoding.PEM) + ca[0].public_bytes(serialization.Encoding.PEM)
        _write(files.server_cert, chain)
    _write(files.bundle, files.ca_cert.read_bytes() + _system_roots())
    return files


KeyPair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _load_valid(cert_path: Path, key_path: Path, now: dt.datetime) -> KeyPair | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc - RENEW_BEFORE < now:
        return None
    return cert, key


def _new_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flux-mock local CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        # Trusting this CA must not let it vouch for real hosts: it may only sign loopback names.
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server_cert(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _system_roots() -> bytes:
    try:
        import certifi
    except ImportError:  # the bundle then trusts the mock only
        return b""
    return b"\n" + Path(certifi.where()).read_bytes()


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
