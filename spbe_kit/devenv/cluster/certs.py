"""The local cluster's PKI: one CA, a serving certificate, client certificates, SA keys.

Files (PEM) under ``Layout.pki``:

    ca.crt / ca.key                 cluster CA (also signs CSRs via kube-controller-manager)
    serving.crt / serving.key       127.0.0.1, localhost, kubernetes.default[...] and the
                                    `kubernetes` Service IP; used by kube-apiserver and by the
                                    controller-manager / scheduler secure ports
    <client>.crt / <client>.key     one per client identity, see CLIENTS
    sa.key / sa.pub                 service-account token signing key pair (RSA, RS256)

Private keys are written 0600. Generation is idempotent: existing files are kept, and a
missing CA regenerates everything (old leaves would not verify anyway).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from spbe_kit.devenv.cluster.layout import KUBERNETES_SERVICE_IP

#: client identity -> (common name, organisations). system:masters bypasses RBAC.
CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("spbe-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ()),
    "kube-scheduler": ("system:kube-scheduler", ()),
    "kwok": ("system:kwok-controller", ("system:masters",)),
    "provisioner": ("system:spbe-local-provisioner", ("system:masters",)),
    # the real node (realnode.py): kubelet as its Node identity (the Node authorizer and
    # NodeRestriction limit it to its own node and pods), kube-proxy with the built-in
    # system:node-proxier binding, the API server's client to kubelets (logs, exec,
    # port-forward), and the NetworkPolicy agent
    "kubelet": ("system:node:spbe-local-real", ("system:nodes",)),
    "kube-proxy": ("system:kube-proxy", ()),
    "apiserver-kubelet-client": ("spbe-apiserver-kubelet-client", ("system:masters",)),
    "network-policies": ("system:spbe-network-policies", ("system:masters",)),
}

SERVING_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVING_IPS = ("127.0.0.1", KUBERNETES_SERVICE_IP)

_CA_DAYS = 3650
_LEAF_DAYS = 365


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def pair(pki: Path, name: str) -> Pair:
    return Pair(pki / f"{name}.crt", pki / f"{name}.key")


def ca(pki: Path) -> Pair:
    return pair(pki, "ca")


def serving(pki: Path) -> Pair:
    return pair(pki, "serving")


def client(pki: Path, name: str) -> Pair:
    return pair(pki, name)


def sa_private_key(pki: Path) -> Path:
    return pki / "sa.key"


def sa_public_key(pki: Path) -> Path:
    return pki / "sa.pub"


def _write_key(path: Path, key) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)  # tolerate small clock skew


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _make_ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name("spbe-local-ca")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    paths = ca(pki)
    _write_key(paths.key, key)
    _write_cert(paths.cert, cert)
    return cert, key


def _load_ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    paths = ca(pki)
    cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    key = serialization.load_pem_private_key(paths.key.read_bytes(), password=None)
    return cert, key  # type: ignore[return-value]


def _issue(
    pki: Path,
    name: str,
    ca_cert: x509.Certificate,
    ca_key,
    subject: x509.Name,
    usage: list,
    sans: list[x509.GeneralName] | None = None,
) -> None:
    key = _new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_encipherment=False, content_commitment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    paths = pair(pki, name)
    _write_key(paths.key, key)
    _write_cert(paths.cert, cert)


def _serving_ips(path: Path) -> set[str]:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return set()
    return {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}


def ensure_pki(pki: Path, extra_ips: tuple[str, ...] = ()) -> None:
    """Create whatever part of the PKI is missing under ``pki``.

    ``extra_ips``: further addresses the API server is reached at (the real node's IP); a
    serving certificate without them is issued again.
    """
    pki.mkdir(parents=True, exist_ok=True)
    os.chmod(pki, 0o700)
    if not (ca(pki).cert.is_file() and ca(pki).key.is_file()):
        for old in pki.iterdir():
            old.unlink()
        ca_cert, ca_key = _make_ca(pki)
    else:
        ca_cert, ca_key = _load_ca(pki)

    ips = (*SERVING_IPS, *extra_ips)
    if (not serving(pki).cert.is_file() or not serving(pki).key.is_file()
            or not set(ips) <= _serving_ips(serving(pki).cert)):
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in SERVING_DNS]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        _issue(pki, "serving", ca_cert, ca_key, _name("spbe-local-apiserver"), [ExtendedKeyUsageOID.SERVER_AUTH], sans)

    for name, (cn, orgs) in CLIENTS.items():
        if not client(pki, name).cert.is_file() or not client(pki, name).key.is_file():
            _issue(pki, name, ca_cert, ca_key, _name(cn, orgs), [ExtendedKeyUsageOID.CLIENT_AUTH])

    if not sa_private_key(pki).is_file() or not sa_public_key(pki).is_file():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(sa_private_key(pki), key)
        sa_public_key(pki).write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
