"""Who is signed in, and what they may do: roles from the groups in the platform Keycloak's ID token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from spbe_kit.portal.settings import OidcSettings
from spbe_kit.regions import CODE_PATTERN


@dataclass(frozen=True)
class User:
    name: str
    subject: str
    ops: bool
    auditor: bool
    #: the region codes whose pemda this user requests for (``pemda-32.04`` -> ``32.04``)
    regions: frozenset[str]

    @property
    def requester(self) -> bool:
        return bool(self.regions)

    @property
    def has_role(self) -> bool:
        return self.ops or self.auditor or self.requester

    @property
    def roles(self) -> list[str]:
        return [r for r, held in (("ops", self.ops), ("auditor", self.auditor), ("pemda", self.requester)) if held]

    def may_see(self, region_code: str) -> bool:
        return self.ops or self.auditor or region_code in self.regions

    def to_session(self) -> dict[str, Any]:
        return {"name": self.name, "sub": self.subject, "ops": self.ops, "auditor": self.auditor,
                "regions": sorted(self.regions)}

    @classmethod
    def from_session(cls, data: Mapping[str, Any] | None) -> User | None:
        if not data:
            return None
        return cls(str(data["name"]), str(data["sub"]), bool(data["ops"]), bool(data["auditor"]),
                   frozenset(data["regions"]))


def _top_level(group: str) -> str | None:
    """``/spbe-ops`` -> ``spbe-ops``; a subgroup (``/pemda-35.10/spbe-ops``) or a bare name -> None. Bare names
    are refused because Keycloak gives a subgroup by its bare name too when the mapper's full path is off."""
    if not group.startswith("/"):
        return None
    group = group[1:]
    return group if group and "/" not in group else None


def user_from_claims(claims: Mapping[str, Any], oidc: OidcSettings) -> User:
    """The user an ID token describes. Groups come as full paths (the mapper's "full group path" on), and only a
    top-level group counts: a subgroup named ``spbe-ops`` under some other group grants nothing."""
    groups = {_top_level(g) for g in claims.get("groups") or [] if isinstance(g, str)} - {None}
    regions = frozenset(g[len(oidc.pemda_group_prefix):] for g in groups
                        if g.startswith(oidc.pemda_group_prefix) and CODE_PATTERN.match(g[len(oidc.pemda_group_prefix):]))
    name = str(claims.get("preferred_username") or claims.get("email") or claims.get("sub"))
    return User(name=name, subject=str(claims.get("sub")), ops=oidc.ops_group in groups,
                auditor=oidc.auditor_group in groups, regions=regions)
