"""The software bill of materials of an image: SPDX 2.3 JSON, every package with its version.

Debian packages come from the image's own dpkg database (what is installed, not what was
asked for); artifacts from Maven Central or PyPI come with the checksum they were verified
against. Package URLs (purl) let a scanner match them against advisories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Package:
    """One installed package or fetched artifact."""

    name: str
    version: str
    purl: str
    supplier: str
    sha256: str | None = None
    license: str = "NOASSERTION"

    @property
    def spdx_id(self) -> str:
        return "SPDXRef-Package-" + re.sub(r"[^A-Za-z0-9.-]", "-", f"{self.name}-{self.version}")


def dpkg_packages(rootfs: Path) -> list[Package]:
    """Every installed package recorded in ``rootfs``'s dpkg status file."""
    status = rootfs / "var" / "lib" / "dpkg" / "status"
    packages = []
    for stanza in status.read_text().split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if not fields.get("Package") or "installed" not in fields.get("Status", "").split():
            continue
        name, version, arch = fields["Package"], fields["Version"], fields.get("Architecture", "all")
        packages.append(Package(
            name=name, version=version,
            purl=f"pkg:deb/debian/{name}@{version.replace(':', '%3A')}?arch={arch}&distro=debian-12",
            supplier="Organization: Debian",
        ))
    return sorted(packages, key=lambda p: p.name)


def npm_packages(rootfs: Path) -> list[Package]:
    """JavaScript packages unpacked anywhere under /opt (each one's own package.json)."""
    import json

    found: dict[tuple[str, str], Package] = {}
    for manifest in sorted((rootfs / "opt").rglob("node_modules/*/package.json")) + sorted(
            (rootfs / "opt").rglob("node_modules/@*/*/package.json")):
        try:
            data = json.loads(manifest.read_text(errors="replace"))
        except ValueError:
            continue
        name, version = data.get("name"), data.get("version")
        if isinstance(name, str) and isinstance(version, str):
            purl_name = name.replace("@", "%40", 1) if name.startswith("@") else name
            found[(name, version)] = Package(name=name, version=version, purl=f"pkg:npm/{purl_name}@{version}",
                                             supplier="Organization: npm registry",
                                             license=data.get("license") if isinstance(data.get("license"), str)
                                             and re.fullmatch(r"[A-Za-z0-9.+-]+", data["license"]) else "NOASSERTION")
    return [found[k] for k in sorted(found)]


def document(image: str, version: str, namespace_hash: str, epoch: int, packages: list[Package]) -> dict[str, Any]:
    """An SPDX 2.3 document describing the image and everything in it."""
    created = datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    root_id = "SPDXRef-Image"
    spdx_packages: list[dict[str, Any]] = [{
        "SPDXID": root_id, "name": image, "versionInfo": version, "downloadLocation": "NOASSERTION",
        "supplier": "Organization: SPBE baseline (spbe-kit)", "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION", "primaryPackagePurpose": "CONTAINER",
    }]
    for pkg in packages:
        entry: dict[str, Any] = {
            "SPDXID": pkg.spdx_id, "name": pkg.name, "versionInfo": pkg.version, "supplier": pkg.supplier,
            "downloadLocation": "NOASSERTION", "licenseConcluded": "NOASSERTION",
            "licenseDeclared": pkg.license, "copyrightText": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": pkg.purl}],
        }
        if pkg.sha256:
            entry["checksums"] = [{"algorithm": "SHA256", "checksumValue": pkg.sha256}]
        spdx_packages.append(entry)
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{image}-{version}",
        "documentNamespace": f"https://spbe.go.id/sbom/{image}/{version}/{namespace_hash}",
        "creationInfo": {"created": created, "creators": ["Tool: spbe-kit images"]},
        "documentDescribes": [root_id],
        "packages": spdx_packages,
        "relationships": [{"spdxElementId": root_id, "relationshipType": "CONTAINS",
                           "relatedSpdxElement": p.spdx_id} for p in packages],
    }


