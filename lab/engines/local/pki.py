"""The embedded engine's lab CA: stands in for the Consul chart's CA and `consul-server-cert`.

The CA and the server certificate (SANs localhost, 127.0.0.1, ::1) live in the state folder and
are reused across restarts, so `curl --cacert <state>/ca.pem https://localhost:8443/` verifies.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.state import StateDir, atomic_write

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
# Names the server certificate covers, like consul-server-cert made by the chart's tls-init job.
SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
# Validity of what the lab makes: long enough for a workshop, short enough to be obviously local.
CA_DAYS = 365
SERVER_DAYS = 90


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the lab CA certificate and of the server certificate and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting the lab server certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A TLS client context trusting only the lab CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_ca(state: StateDir) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((state.path / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((state.path / CA_KEY_FILE).read_bytes(), None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1):
        return None
    return cert, key


def _server_cert_usable(state: StateDir, ca: x509.Certificate) -> bool:
    try:
        cert = x509.load_pem_x509_certificate((state.path / SERVER_CERT_FILE).read_bytes())
        (state.path / SERVER_KEY_FILE).read_bytes()
    except (OSError, ValueError):
        return False
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
    return cert.issuer == ca.subject and cert.not_valid_after_utc > soon


def _make_ca(state: StateDir) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab embedded engine CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    state.write_private(CA_KEY_FILE, _key_pem(key))
    atomic_write(state.path / CA_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _make_server(state: StateDir, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consul-server-cert (lab)")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    state.write_private(SERVER_KEY_FILE, _key_pem(key))
    atomic_write(state.path / SERVER_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def ensure_tls(state: StateDir) -> TlsFiles:
    """The lab CA and server certificate of this state folder, made on first use and then reused."""
    state.ensure()
    loaded = _load_ca(state)
    ca, ca_key = loaded if loaded is not None else _make_ca(state)
    if loaded is None or not _server_cert_usable(state, ca):
        _make_server(state, ca, ca_key)
    return TlsFiles(state.path / CA_FILE, state.path / SERVER_CERT_FILE, state.path / SERVER_KEY_FILE)
