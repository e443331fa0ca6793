"""Tenant request validation: every problem named by field path, with a hint, never a traceback."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from spbe_kit.errors import RequestInvalid
from spbe_kit.regions import Level
from spbe_kit.request import Component, Tier, load_request, parse_request
from spbe_kit.request.yaml_source import MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "kab-banyuwangi.yaml").read_text()


def problems_of(text: str | bytes) -> dict[str, list]:
    """path -> problems, for a request that must be invalid."""
    with pytest.raises(RequestInvalid) as info:
        parse_request(text)
    out: dict[str, list] = {}
    for p in info.value.problems:
        assert p.message, "every problem says what is wrong"
        out.setdefault(p.path, []).append(p)
    return out


def edit(old: str, new: str, text: str = EXAMPLE) -> str:
    assert old in text, f"test setup: {old!r} not in the example"
    return text.replace(old, new, 1)


def test_the_example_is_valid_and_typed():
    spec = parse_request(EXAMPLE)
    assert spec.tenant_id == "kab-banyuwangi"
    assert spec.pemda.level is Level.KABUPATEN and spec.pemda.region_code == "35.10"
    assert spec.tier is Tier.MEDIUM
    assert spec.components == frozenset(Component)
    assert spec.backup.retention_days == 30 and spec.backup.schedule == "0 1 * * *"


@pytest.mark.parametrize(
    "text, path, words",
    [
        ("", "(file)", "empty"),
        ("   \n\n", "(file)", "empty"),
        ("- a\n- b\n", "(file)", "list"),
        ("just text", "(file)", "text"),
        ("spec: [unclosed\n", "(file)", "not valid YAML"),
        ("a: 1\n\tb: 2\n", "(file)", "not valid YAML"),
        ("a: &x 1\nb: *x\n", "(file)", "aliases"),
        ("a: 1\n---\nb: 2\n", "(file)", "more than one"),
        ("a: 1\na: 2\n", "(file)", "appears twice"),
        ("x: " + "[" * 40 + "]" * 40 + "\n", "(file)", "nests deeper"),
    ],
)
def test_unreadable_files_are_explained(text, path, words):
    found = problems_of(text)
    assert path in found
    assert words in found[path][0].message
    assert found[path][0].hint


def test_billion_laughs_is_refused_before_expanding():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    assert "aliases" in problems_of(bomb)["(file)"][0].message


def test_huge_and_binary_files_are_refused():
    assert f"at most {MAX_BYTES}" in problems_of("a: " + "x" * (MAX_BYTES + 10))["(file)"][0].message
    assert "UTF-8" in problems_of(b"\xff\xfe\x00garbage")["(file)"][0].message
    assert "NUL" in problems_of("a: 1\x00\n")["(file)"][0].message


def test_duplicate_keys_name_the_key_and_line():
    text = edit("  tier: medium\n", "  tier: medium\n  tier: small\n")
    problem = problems_of(text)["(file)"][0]
    assert '"tier"' in problem.message and problem.line is not None


def test_unquoted_region_code_gets_a_quoting_hint():
    found = problems_of(edit('regionCode: "35.10"', "regionCode: 35.10"))
    problem = found["spec.pemda.regionCode"][0]
    assert "number" in problem.message
    assert 'regionCode: "35.10"' in problem.hint
    provinsi = edit('regionCode: "35.10"', "regionCode: 35")
    assert 'regionCode: "35"' in problems_of(provinsi)["spec.pemda.regionCode"][0].hint


@pytest.mark.parametrize(
    "old, new, path, words",
    [
        ("  tier: medium", "  tier: medium\n  colour: blue", "spec.colour", "unknown field"),
        ("    regionCode:", "    regoinCode: x\n    regionCode:", "spec.pemda.regoinCode", "unknown field"),
        ("    identity: {}", "    identity: {replicas: 3}", "spec.components.identity.replicas", "unknown field"),
        ("apiVersion: spbe.go.id/v1alpha1", "apiVersion: v1", "apiVersion", "not a valid"),
        ("kind: TenantRequest", "kind: Tenant", "kind", "not a valid"),
        ("  name: kab-banyuwangi", "  name: Kab_Banyuwangi", "metadata.name", "cannot be a tenant id"),
        ('regionCode: "35.10"', 'regionCode: "35.99"', "spec.pemda.regionCode", "not in the official list"),
        ('regionCode: "35.10"', 'regionCode: "3510"', "spec.pemda.regionCode", "not a Kemendagri region code"),
        ('regionCode: "35.10"', 'regionCode: "35.78"', "spec.pemda.level", "is a kota"),
        ("name: Kabupaten Banyuwangi", "name: Kabupaten Jember", "spec.pemda.name", "officially named"),
        ("province: Jawa Timur", "province: Jawa Tengah", "spec.pemda.province", "lies in Jawa Timur"),
        ("level: kabupaten", "level: county", "spec.pemda.level", "not allowed"),
        ("domain: banyuwangikab.go.id", "domain: banyuwangi.com", "spec.domain", "under .go.id"),
        ("domain: banyuwangikab.go.id", "domain: go.id", "spec.domain", "under .go.id"),
        ("domain: banyuwangikab.go.id", "domain: Banyuwangikab.go.id", "spec.domain", "capital letters"),
        ("domain: banyuwangikab.go.id", "domain: -bwi.go.id", "spec.domain", "not a valid domain"),
        ("email: aptika@banyuwangikab.go.id", "email: aptika at banyuwangikab", "spec.contacts[0].email", "not an e-mail"),
        ("role: technical", "role: security", "spec.contacts", "no technical contact"),
        ("role: technical", "role: boss", "spec.contacts[0].role", "not allowed"),
        ("tier: medium", "tier: huge", "spec.tier", "not allowed"),
        ("    identity: {}\n", "", "spec.components", "identity cannot be left out"),
        ("    database: {}\n", "", "spec.components", "database cannot be left out"),
        ("    monitoring: {}\n", "", "spec.components", "monitoring cannot be left out"),
        ("    mail: {}\n", "", "spec.components.eoffice.mailRelay", "needs a mail server"),
        ("    eoffice: {}", "    eoffice: {mailRelay: smtp.x.go.id:587}", "spec.components.eoffice.mailRelay", "own mail component"),
        ("retentionDays: 30", "retentionDays: 3", "spec.backup.retentionDays", "at least 7 days"),
        ("retentionDays: 30", 'retentionDays: "30"', "spec.backup.retentionDays", "whole number"),
        ("retentionDays: 30", "retentionDays: 30\n    enabled: false", "spec.backup.enabled", "cannot be switched off"),
        ('schedule: "0 1 * * *"', 'schedule: "0 25 * * *"', "spec.backup.schedule", "outside 0-23"),
        ('schedule: "0 1 * * *"', 'schedule: "daily"', "spec.backup.schedule", "not a cron schedule"),
        ("  contacts:\n    - role: technical\n      name: Bidang Aplikasi Informatika\n      email: aptika@banyuwangikab.go.id\n",
         "  contacts: []\n", "spec.contacts", "at least one"),
        ("  tier: medium\n", "", "spec.tier", "required but missing"),
    ],
)
def test_each_mistake_names_its_field_with_a_hint(old, new, path, words):
    found = problems_of(edit(old, new))
    assert path in found, f"expected a problem at {path}, got {sorted(found)}"
    messages = " / ".join(p.message for p in found[path])
    assert words in messages
    assert all(p.hint for p in found[path]), "every problem carries a hint"


def test_backups_cannot_be_switched_off_wholesale():
    text = edit('  backup:\n    schedule: "0 1 * * *"\n    retentionDays: 30\n', "  backup: false\n")
    assert "cannot be switched off" in problems_of(text)["spec.backup"][0].message


def test_administrative_jakarta_regions_are_not_tenants():
    text = EXAMPLE
    for old, new in [('"35.10"', '"31.71"'), ("Kabupaten Banyuwangi", "Kota Administrasi Jakarta Pusat"),
                     ("level: kabupaten", "level: kota"), ("province: Jawa Timur", "province: DKI Jakarta")]:
        text = edit(old, new, text)
    problem = problems_of(text)["spec.pemda.regionCode"][0]
    assert "administrative" in problem.message and '"31"' in problem.hint


@pytest.mark.parametrize("name", ["kabupaten banyuwangi", "KABUPATEN  BANYUWANGI", "Banyuwangi", "Kab. Banyuwangi"])
def test_names_are_matched_tolerantly(name):
    assert parse_request(edit("name: Kabupaten Banyuwangi", f"name: {name}")).pemda.name == name


def test_province_name_may_carry_provinsi():
    assert parse_request(edit("province: Jawa Timur", "province: Provinsi Jawa Timur")).tenant_id == "kab-banyuwangi"


def test_all_problems_come_at_once_with_lines():
    text = edit("domain: banyuwangikab.go.id", "domain: bwi.com", edit("retentionDays: 30", "retentionDays: 1"))
    found = problems_of(text)
    assert {"spec.domain", "spec.backup.retentionDays"} <= set(found)
    assert found["spec.domain"][0].line == EXAMPLE.splitlines().index("  domain: banyuwangikab.go.id") + 1


def test_optional_components_may_be_left_out_with_a_relay():
    text = edit("    mail: {}\n", "", edit("    eoffice: {}", "    eoffice: {mailRelay: smtp.banyuwangikab.go.id:587}"))
    spec = parse_request(text)
    assert Component.MAIL not in spec.components and spec.eoffice.mail_relay == "smtp.banyuwangikab.go.id:587"
    without_eoffice = edit("    mail: {}\n", "", edit("    eoffice: {}\n", ""))
    assert Component.EOFFICE not in parse_request(without_eoffice).components


def test_a_missing_file_is_a_usage_error_not_an_invalid_request(tmp_path):
    from spbe_kit.errors import RequestUnreadable

    with pytest.raises(RequestUnreadable) as info:
        load_request(tmp_path / "nope.yaml")
    assert info.value.exit_code == 2 and "No such file" in info.value.message
    with pytest.raises(RequestUnreadable):
        load_request(tmp_path)  # a directory


def test_shape_and_rule_problems_come_in_one_run():
    text = (ROOT / "examples" / "kab-banyuwangi.yaml").read_text()
    text = text.replace("tier: medium", "tier: huge").replace("domain: banyuwangikab.go.id", "domain: banyuwangi.com")
    text = text.replace("retentionDays: 30", "retentionDays: 3")
    assert "tier: huge" in text and "retentionDays: 3\n" in text
    with pytest.raises(RequestInvalid) as info:
        parse_request(text)
    paths = sorted(p.path for p in info.value.problems)
    assert paths == ["spec.backup.retentionDays", "spec.domain", "spec.tier"]
    assert all(p.line for p in info.value.problems)


def _mutations(data, rng: random.Random, depth: int = 0):
    """Yield copies of `data` with one random hostile change somewhere."""
    junk = [None, 0, -1, 3.5, True, "", "x" * 300, [], {}, [1, 2], {"a": {"b": 1}}, "35.10", "\u202e", "{{x}}"]
    if isinstance(data, dict):
        for key in list(data):
            for value in rng.sample(junk, 3):
                yield {**data, key: value}
            yield {k: v for k, v in data.items() if k != key}
            for sub in _mutations(data[key], rng, depth + 1):
                yield {**data, key: sub}
    elif isinstance(data, list):
        for i, item in enumerate(data):
            for sub in _mutations(item, rng, depth + 1):
                yield data[:i] + [sub] + data[i + 1:]
        yield data + [rng.choice(junk)]


def test_no_mutation_of_a_valid_request_escapes_as_a_crash():
    base = yaml.safe_load(EXAMPLE)
    rng = random.Random(2026)
    count = 0
    for mutated in _mutations(base, rng):
        try:
            parse_request(yaml.safe_dump(mutated))
        except RequestInvalid as exc:
            assert exc.problems and all(p.path and p.message for p in exc.problems)
        count += 1
    assert count >= 100  # every field of the example, mutated several ways
