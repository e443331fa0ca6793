"""The tenant's generated credentials: made by the kit, kept only in the stack's encrypted state.

The desired state names which Secret keys are generated (``Manifest.generated_keys``); the
values are created here on a tenant's first ``up`` and afterwards read back from the stack's
own state (the inputs of its Secret resources, decrypted by ``pulumi stack export
--show-secrets``). So they survive a wiped work dir or another operator's machine sharing the
backend, and change only when someone asks for a rotation. They are never written anywhere
else, never printed, and their ``repr`` shows only names.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from spbe_kit.desired.model import CERTIFICATE_KEYS, DesiredState, Manifest

#: Pulumi's wire marker on secret values in an exported deployment (sdk/go/common/resource/sig).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_TYPE = "kubernetes:core/v1:Secret"
LENGTH = 32
# Letters and digits only: the values go into JDBC URLs, env vars and config files unescaped.
_ALPHABET = string.ascii_letters + string.digits


def new_password(length: int = LENGTH) -> str:
    """A random password of letters and digits with at least one lower, one upper and one digit."""
    while True:
        value = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value):
            return value


#: a generated certificate is valid this long, and made anew on an ``up`` this close to its end
CERTIFICATE_DAYS = 825
RENEW_BEFORE_DAYS = 30


def new_certificate(names: tuple[str, ...], now: datetime.datetime | None = None) -> dict[str, str]:
    """A self-signed server certificate for ``names`` (the first is its subject) and its P-256 key, as PEM."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {"tls.crt": cert.public_bytes(serialization.Encoding.PEM).decode(), "tls.key": pem_key.decode()}


def certificate_still_good(values: Mapping[str, str], names: tuple[str, ...],
                           now: datetime.datetime | None = None) -> bool:
    """A recorded certificate is kept when it is for exactly ``names``, matches its key and is not near its end."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        cert = x509.load_pem_x509_certificate(values["tls.crt"].encode())
        key = serialization.load_pem_private_key(values["tls.key"].encode(), password=None)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except (KeyError, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    same_key = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fresh = cert.not_valid_after_utc - now > datetime.timedelta(days=RENEW_BEFORE_DAYS)
    return same_key and fresh and sorted(sans) == sorted(names)


@dataclass(frozen=True)
class Credentials:
    """Secret name -> key -> value. Its repr names the Secrets, never a value."""

    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(f'{s}[{len(k)} keys]' for s, k in sorted(self.values.items()))})"

    __str__ = __repr__

    def value(self, secret: str, key: str) -> str:
        return self.values[secret][key]

    def names(self) -> list[str]:
        return sorted(self.values)


def unwrap(value: Any) -> Any:
    """A value of an exported deployment with Pulumi's secret wrappers removed (plaintext only)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "plaintext" in value:
            return unwrap(json.loads(value["plaintext"]))
        if value.get(SECRET_SIG) is not None:
            return None  # still encrypted: not readable here
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def from_deployment(deployment: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """The generated values recorded in a stack's state: Secret name -> key -> value.

    Completed resources first; then the inputs of operations a killed run left in flight
    (a Secret whose create was interrupted may already be in the cluster with those values).
    """
    deployment = deployment or {}
    pending = [op.get("resource") or {} for op in deployment.get("pending_operations") or []]
    found: dict[str, dict[str, str]] = {}
    for resource in [*(deployment.get("resources") or []), *pending]:
        if resource.get("type") != SECRET_TYPE or resource.get("delete"):
            continue
        inputs = unwrap(resource.get("inputs") or {})
        if not isinstance(inputs, dict):
            continue
        name = (inputs.get("metadata") or {}).get("name")
        values = _values(inputs)
        if name and values and name not in found:
            found[name] = values
    return found


def _values(inputs: dict[str, Any]) -> dict[str, str]:
    """A Secret's values from its recorded inputs: ``stringData`` as given, or ``data`` (base64), which
    is how the kubernetes provider records ``stringData`` after normalising it."""
    plain = inputs.get("stringData")
    if isinstance(plain, dict):
        return {k: v for k, v in plain.items() if isinstance(v, str) and v}
    encoded = inputs.get("data")
    values: dict[str, str] = {}
    if isinstance(encoded, dict):
        for key, value in encoded.items():
            try:
                values[key] = base64.b64decode(value, validate=True).decode("utf-8")
            except (ValueError, TypeError, UnicodeDecodeError):
                continue
    return {k: v for k, v in values.items() if v}


class PlatformValuesMissing(ValueError):
    """A Secret needs values only the platform gives (``Manifest.platform_keys``), and none were given or recorded."""


def resolve(state: DesiredState, recorded: Mapping[str, Mapping[str, str]],
            rotate: Iterable[str] | None = None,
            platform: Mapping[str, Mapping[str, str]] | None = None) -> tuple[Credentials, list[str]]:
    """Every generated key of ``state``: kept from ``recorded``, new where missing or rotated.

    ``rotate``: Secret names to give new values (an empty iterable rotates nothing; the
    caller validates names). ``platform``: Secret name -> the values of its ``platform_keys``, as
    the platform gives them now (they win over recorded ones; without them the recorded ones stay).
    Returns the credentials and the ``secret/key`` names that are new.
    """
    rotating = set(rotate or ())
    values: dict[str, dict[str, str]] = {}
    new: list[str] = []
    for manifest in state.manifests:
        if not manifest.generated_keys:
            continue
        old = recorded.get(manifest.name, {})
        if manifest.certificate_names:
            values[manifest.name], made = _certificate(manifest, old, manifest.name in rotating)
            new += made
            continue
        keys: dict[str, str] = {}
        given = (platform or {}).get(manifest.name, {})
        for key in manifest.generated_keys:
            if key in manifest.platform_keys:
                value = given.get(key) or old.get(key)
                if not value:
                    raise PlatformValuesMissing(f"{manifest.name}/{key}")
                if value != old.get(key):
                    new.append(f"{manifest.name}/{key}")
                keys[key] = value
            elif key in old and manifest.name not in rotating:
                keys[key] = old[key]
            else:
                keys[key] = new_password()
                new.append(f"{manifest.name}/{key}")
        values[manifest.name] = keys
    return Credentials(values), new


def _certificate(manifest: Manifest, old: Mapping[str, str], rotate: bool) -> tuple[dict[str, str], list[str]]:
    """The recorded certificate while it is good, else a new one (and which keys are new)."""
    if not rotate and certificate_still_good(old, manifest.certificate_names):
        return {k: old[k] for k in CERTIFICATE_KEYS}, []
    return new_certificate(manifest.certificate_names), [f"{manifest.name}/{k}" for k in CERTIFICATE_KEYS]


def generated_secret_names(state: DesiredState) -> list[str]:
    """The Secrets of ``state`` whose values the kit generates."""
    return sorted(m.name for m in state.manifests if m.generated_keys)
