"""Words of the drift report for auditors, in English and Bahasa Indonesia (`--lang id`).

Field paths, object names and values stay as they are in Kubernetes; only the sentences
around them are translated.
"""

from __future__ import annotations

import enum

from spbe_kit.drift.model import FindingKind


class Lang(str, enum.Enum):
    """Report languages."""

    EN = "en"
    ID = "id"


MESSAGES: dict[str, dict[Lang, str]] = {
    "title": {Lang.EN: "SPBE baseline drift report", Lang.ID: "Laporan penyimpangan baseline SPBE"},
    "generated": {Lang.EN: "Generated", Lang.ID: "Dibuat"},
    "cluster": {Lang.EN: "Cluster", Lang.ID: "Klaster"},
    "tenant": {Lang.EN: "Tenant", Lang.ID: "Tenant"},
    "status": {Lang.EN: "Status", Lang.ID: "Status"},
    "catalog": {Lang.EN: "Catalog version", Lang.ID: "Versi katalog"},
    "objects": {Lang.EN: "Objects checked", Lang.ID: "Objek diperiksa"},
    "findings": {Lang.EN: "Findings", Lang.ID: "Temuan"},
    "object": {Lang.EN: "Object", Lang.ID: "Objek"},
    "field": {Lang.EN: "Field", Lang.ID: "Kolom"},
    "expected": {Lang.EN: "Expected", Lang.ID: "Seharusnya"},
    "actual": {Lang.EN: "Actual", Lang.ID: "Sebenarnya"},
    "rules": {Lang.EN: "Rules applied (never counted as drift)", Lang.ID: "Aturan yang diterapkan (tidak dihitung sebagai penyimpangan)"},
    "digest": {Lang.EN: "SHA-256 of the JSON evidence", Lang.ID: "SHA-256 dari bukti JSON"},
    "requests": {Lang.EN: "API requests", Lang.ID: "Permintaan API"},
    "unknown_namespaces": {Lang.EN: "Tenant namespaces without a request", Lang.ID: "Namespace tenant tanpa permohonan"},
    "status.clean": {Lang.EN: "clean", Lang.ID: "sesuai"},
    "status.drift": {Lang.EN: "drift", Lang.ID: "menyimpang"},
    "status.unverified": {Lang.EN: "not verified", Lang.ID: "tidak terverifikasi"},
    "status.error": {Lang.EN: "error", Lang.ID: "galat"},
    "status.not-provisioned": {Lang.EN: "not provisioned (no namespace: never brought up, or destroyed)",
                               Lang.ID: "belum disediakan (namespace tidak ada: belum pernah dibuat, atau sudah dihapus)"},
    "summary.clean": {Lang.EN: "{clean} of {tenants} tenant(s) match the baseline",
                      Lang.ID: "{clean} dari {tenants} tenant sesuai baseline"},
    "summary.drift": {Lang.EN: "{drifted} tenant(s) drifted, {findings} finding(s)",
                      Lang.ID: "{drifted} tenant menyimpang, {findings} temuan"},
    "kind.missing": {Lang.EN: "missing from the cluster", Lang.ID: "tidak ada di klaster"},
    "kind.changed": {Lang.EN: "changed", Lang.ID: "diubah"},
    "kind.stray": {Lang.EN: "not defined by the baseline", Lang.ID: "tidak didefinisikan baseline"},
    "kind.secret-changed": {Lang.EN: "credential changed since the previous report",
                            Lang.ID: "kredensial berubah sejak laporan sebelumnya"},
    "kind.unverified": {Lang.EN: "could not be checked", Lang.ID: "tidak dapat diperiksa"},
    "guardrail": {Lang.EN: "guardrail", Lang.ID: "pagar pengaman"},
    # the HTML evidence page
    "tenants": {Lang.EN: "Tenants", Lang.ID: "Tenant"},
    "component": {Lang.EN: "Component", Lang.ID: "Komponen"},
    "duration": {Lang.EN: "Duration", Lang.ID: "Durasi"},
    "no_findings": {Lang.EN: "No findings.", Lang.ID: "Tidak ada temuan."},
    "digest_hint": {Lang.EN: "must equal the output of sha256sum over the JSON evidence file",
                    Lang.ID: "harus sama dengan keluaran sha256sum atas berkas bukti JSON"},
    "hash_key": {Lang.EN: "Credential hash key (fingerprint, not the key)",
                 Lang.ID: "Kunci hash kredensial (sidik jari, bukan kuncinya)"},
    "secret_hashes": {Lang.EN: "Credential hashes (keyed; values are never read into the report)",
                      Lang.ID: "Hash kredensial (berkunci; nilainya tidak pernah dimuat ke laporan)"},
    "secret": {Lang.EN: "Secret", Lang.ID: "Secret"},
    "key": {Lang.EN: "Key", Lang.ID: "Kunci"},
    "hash": {Lang.EN: "Keyed hash", Lang.ID: "Hash berkunci"},
    "rule_type": {Lang.EN: "Rule", Lang.ID: "Aturan"},
    "rule_kind": {Lang.EN: "Kind", Lang.ID: "Jenis"},
    "rule_target": {Lang.EN: "Field or name", Lang.ID: "Kolom atau nama"},
    "rule_reason": {Lang.EN: "Reason", Lang.ID: "Alasan"},
}


def t(key: str, lang: Lang | str = Lang.EN, **values: object) -> str:
    """The message `key` in `lang`, with values filled in."""
    text = MESSAGES[key][Lang(lang)]
    return text.format(**values) if values else text


def finding_text(kind: FindingKind | str, lang: Lang | str = Lang.EN) -> str:
    """What a finding kind means, in words."""
    return t(f"kind.{FindingKind(kind).value}", lang)


