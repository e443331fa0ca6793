"""How a portal runs: its database, where it keeps files, the identity provider, the cluster it provisions."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.paths import private_secret_file, state_dir


class PortalConfigError(SpbeError):
    """The portal cannot start as configured."""


@dataclass(frozen=True)
class OidcSettings:
    """The platform's Keycloak: an OpenID Connect client whose ID token carries the user's groups."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    ops_group: str = "spbe-ops"
    auditor_group: str = "spbe-auditors"
    #: a pemda's IT team is in ``<prefix><region code>``, e.g. pemda-32.04
    pemda_group_prefix: str = "pemda-"

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class PortalSettings:
    home: Path
    database_url: str
    oidc: OidcSettings
    secret_key: bytes = field(repr=False)
    kubeconfig: Path | None = None
    context: str | None = None
    catalog_version: str | None = None
    secure_cookies: bool = False
    #: how the portal runs the product's own commands (the same interpreter, so the same install)
    spbe_command: tuple[str, ...] = (sys.executable, "-m", "spbe_kit")
    worker_poll_seconds: float = 1.0
    stale_after_seconds: float = 15.0

    @property
    def requests_dir(self) -> Path:
        return self.home / "requests"

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"

    @classmethod
    def resolve(cls, database_url: str | None, issuer: str | None, client_id: str | None,
                client_secret_file: Path | None, kubeconfig: Path | None, context: str | None,
                catalog_version: str | None, secure_cookies: bool, home: Path | None = None) -> PortalSettings:
        home = home or Path(os.environ.get("SPBE_PORTAL_HOME") or state_dir() / "portal")
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        url = database_url or os.environ.get("SPBE_PORTAL_DATABASE_URL") or f"sqlite:///{home / 'portal.db'}"
        issuer = issuer or os.environ.get("SPBE_PORTAL_OIDC_ISSUER")
        client_id = client_id or os.environ.get("SPBE_PORTAL_OIDC_CLIENT_ID") or "spbe-portal"
        secret = os.environ.get("SPBE_PORTAL_OIDC_CLIENT_SECRET")
        if client_secret_file is not None:
            try:
                secret = client_secret_file.read_text().strip()
            except OSError as exc:
                raise PortalConfigError(f"cannot read the client secret file {client_secret_file}: {exc.strerror}",
                                        "give a readable file holding only the client secret") from None
        if not issuer:
            raise PortalConfigError("no OpenID Connect issuer: the portal signs everyone in with the platform's Keycloak",
                                    "set --oidc-issuer (or SPBE_PORTAL_OIDC_ISSUER), e.g. "
                                    "https://sso.platform.go.id/realms/spbe-platform")
        if not secret:
            raise PortalConfigError(f"no client secret for the OpenID Connect client {client_id!r}",
                                    "set --oidc-client-secret-file (or SPBE_PORTAL_OIDC_CLIENT_SECRET); "
                                    "never on the command line")
        return cls(home=home, database_url=url, oidc=OidcSettings(issuer, client_id, secret),
                   secret_key=private_secret_file(home / "session.key", 48), kubeconfig=kubeconfig, context=context,
                   catalog_version=catalog_version, secure_cookies=secure_cookies)
