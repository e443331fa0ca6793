"""The `spbe` CLI: exit codes, output formats, errors as one readable block."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from spbe_kit.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "kab-banyuwangi.yaml"


def invoke_assert_code(code: int, args: list[str], stdout_contains: str = "", stderr_contains: str = ""):
    """Run `spbe ARGS`, check the exit code and what it printed; return the result."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert stdout_contains in result.stdout
    assert stderr_contains in result.stderr
    assert "Traceback" not in result.output
    return result


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


@pytest.mark.parametrize("path", list(_commands(cli)), ids=" ".join)
def test_every_command_has_help(path):
    result = invoke_assert_code(0, [*path, "--help"])
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 3


def test_validate_valid_files_exits_0():
    invoke_assert_code(0, ["request", "validate", *sorted((ROOT / "examples").glob("*.yaml"))], stdout_contains="3 valid, 0 invalid")


def test_validate_reports_every_problem_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("banyuwangikab.go.id", "bwi.com").replace("retentionDays: 30", "retentionDays: 2"))
    result = invoke_assert_code(1, ["request", "validate", EXAMPLE, bad], stdout_contains="1 valid, 1 invalid")
    assert "spec.domain (line 11)" in result.stdout and "spec.backup.retentionDays (line 25)" in result.stdout
    assert "hint: set retentionDays to 7 or more" in result.stdout
    bad.write_text(EXAMPLE.read_text().replace('"35.10"', "35.10"))
    result = invoke_assert_code(1, ["request", "validate", bad])
    assert 'hint: put it in quotes: regionCode: "35.10"' in result.stdout


def test_validate_json_is_machine_readable(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("")
    data = json.loads(invoke_assert_code(1, ["request", "validate", "--output", "json", bad]).stdout)
    assert data["valid"] is False
    assert data["files"][0]["problems"][0]["path"] == "(file)"


def test_validate_usage_errors_exit_2():
    invoke_assert_code(2, ["request", "validate"], stderr_contains="Missing argument")
    invoke_assert_code(2, ["request", "validate", "--output", "xml", EXAMPLE])


def test_new_writes_a_request_that_validates(tmp_path):
    out = tmp_path / "kab-banyuwangi.yaml"
    invoke_assert_code(0, ["request", "new", "--region", "35.10", "--out-file", out])
    assert "domain: banyuwangikab.go.id" in out.read_text()
    invoke_assert_code(0, ["request", "validate", out])
    invoke_assert_code(2, ["request", "new", "--region", "35.10", "--out-file", out], stderr_contains="--force")


def test_new_for_an_unknown_or_administrative_region_exits_1():
    invoke_assert_code(1, ["request", "new", "--region", "35.99"], stderr_contains="not in the official list")
    invoke_assert_code(1, ["request", "new", "--region", "31.71"], stderr_contains="hint: request the provincial tenant")


def test_catalog_show_and_images():
    data = json.loads(invoke_assert_code(0, ["catalog", "show", "--output", "json"]).stdout)
    assert data["version"] == "2027.01" and set(data["tiers"]) == {"small", "medium", "large"}
    refs = invoke_assert_code(0, ["catalog", "images", "--registry", "mirror.local"]).stdout.split()
    assert refs and all(r.startswith("mirror.local/") and "@sha256:" in r for r in refs)
    assert data["availableVersions"] == ["2026.11", "2026.12", "2027.01"]


def test_tenant_render_writes_yaml_and_reports_json(tmp_path):
    data = json.loads(invoke_assert_code(0, ["tenant", "render", EXAMPLE, "--out-dir", tmp_path, "--output", "json"]).stdout)
    assert data["tenant"] == "kab-banyuwangi" and len(data["objects"]) == len(list(tmp_path.iterdir()))


def test_tenant_render_of_an_invalid_request_exits_1_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("tier: medium", "tier: giant"))
    invoke_assert_code(1, ["tenant", "render", bad, "--out-dir", tmp_path / "out"], stderr_contains="spec.tier")
    assert not (tmp_path / "out").exists()


def test_an_unknown_catalog_version_is_an_error_with_a_hint(tmp_path):
    invoke_assert_code(2, ["tenant", "render", EXAMPLE, "--out-dir", tmp_path, "--catalog-version", "1999.01"],
                       stderr_contains="hint: available: 2026.11")


def test_tenant_ids_on_the_command_line_are_validated():
    invoke_assert_code(2, ["tenant", "status", "../../etc"], stderr_contains="is not a tenant id")
    invoke_assert_code(2, ["tenant", "destroy", "Kab_Banyuwangi", "--yes"], stderr_contains="is not a tenant id")


def test_drift_needs_targets_and_a_report_for_previous(tmp_path):
    invoke_assert_code(2, ["drift"], stderr_contains="name tenants or request files, or use --all")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    previous = tmp_path / "previous.json"
    previous.write_text("[]")
    invoke_assert_code(2, ["drift", str(EXAMPLE), "--kubeconfig", kubeconfig, "--previous", previous],
                       stderr_contains="is not a drift report")
    invoke_assert_code(2, ["drift", "kab-banyuwangi", "--kubeconfig", kubeconfig],
                       stderr_contains="no folder of tenant requests given")


def _params(path: tuple[str, ...]) -> list[click.Parameter]:
    command: click.Command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command.params


@pytest.mark.parametrize("path", list(_commands(cli)), ids=" ".join)
def test_one_option_convention_everywhere(path):
    """-o/--output is always the format (kubectl's convention); paths never take a short -o/-O."""
    for param in _params(path):
        if not isinstance(param, click.Option):
            continue
        if param.name == "output":
            assert param.opts == ["--output", "-o"] or sorted(param.opts) == ["--output", "-o"], param.opts
            assert isinstance(param.type, click.Choice) and "json" in param.type.choices
        else:
            assert "-o" not in param.opts and "-O" not in param.opts, (param.name, param.opts)


def _bad_request(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("tier: medium", "tier: huge"))
    return bad


EXIT_CODES = [
    # (what, args, exit code): 0 success, 1 invalid input or not clean, 2 usage or runtime error
    ("valid request", ["request", "validate", EXAMPLE], 0),
    ("invalid request", ["request", "validate", "{bad}"], 1),
    ("missing request file", ["request", "validate", "{tmp}/missing.yaml"], 2),
    ("a directory is not a request", ["request", "validate", "{tmp}"], 2),
    ("one missing among valid ones", ["request", "validate", EXAMPLE, "{tmp}/missing.yaml"], 2),
    ("scaffold", ["request", "new", "--region", "35.10"], 0),
    ("unknown region", ["request", "new", "--region", "99.99"], 1),
    ("Jakarta administrative region", ["request", "new", "--region", "31.71"], 1),
    ("catalog", ["catalog", "show"], 0),
    ("unknown catalog version", ["catalog", "show", "--version", "1999.01"], 2),
    ("image list", ["catalog", "images", "-o", "json"], 0),
    ("render", ["tenant", "render", EXAMPLE, "--out-dir", "{tmp}/out"], 0),
    ("render an invalid request", ["tenant", "render", "{bad}", "--out-dir", "{tmp}/out"], 1),
    ("render a missing file", ["tenant", "render", "{tmp}/missing.yaml", "--out-dir", "{tmp}/out"], 2),
    ("up an invalid request: nothing touched", ["tenant", "up", "{bad}", "--kubeconfig", "{tmp}/none"], 1),
    ("up a missing file", ["tenant", "up", "{tmp}/missing.yaml", "--kubeconfig", "{tmp}/none"], 2),
    ("status without a cluster", ["tenant", "status", "kab-banyuwangi", "--kubeconfig", "{tmp}/none"], 2),
    ("tenant id that is not one", ["tenant", "status", "Kab_Banyuwangi"], 2),
    ("unknown option", ["tenant", "render", "--bogus"], 2),
    ("unknown output format", ["catalog", "show", "-o", "xml"], 2),
    ("drift without requests", ["drift", "kab-banyuwangi", "--requests", "{tmp}/none", "--kubeconfig", "{tmp}/none"], 2),
    ("verify a missing request", ["verify", "{tmp}/missing.yaml"], 2),
]


@pytest.mark.parametrize("what,args,code", EXIT_CODES, ids=[row[0] for row in EXIT_CODES])
def test_exit_codes_follow_the_0_1_2_contract(tmp_path, what, args, code):
    bad = _bad_request(tmp_path)
    args = [str(a).format(tmp=tmp_path, bad=bad) for a in args]
    invoke_assert_code(code, args)


def _with_placeholder(catalog, name: str):
    """The catalog as it was before the pipeline published `name`: a placeholder digest."""
    images = {**catalog.images, name: catalog.images[name].model_copy(
        update={"placeholder": True, "digest": "sha256:" + "0" * 64, "recipe": None})}
    return catalog.model_copy(update={"images": images})


def test_render_warns_loudly_about_placeholder_images(tmp_path, monkeypatch):
    from spbe_kit.cli import tenant as tenant_cli

    real = tenant_cli.catalog_for
    monkeypatch.setattr(tenant_cli, "catalog_for", lambda *a, **k: _with_placeholder(real(*a, **k), "eoffice"))
    result = invoke_assert_code(0, ["tenant", "render", EXAMPLE, "--out-dir", tmp_path])
    assert "WARNING: 1 image(s) of tenant kab-banyuwangi are PLACEHOLDERS" in result.stderr
    assert "eoffice" in result.stderr
    monkeypatch.setattr(tenant_cli, "catalog_for", real)
    newest = invoke_assert_code(0, ["tenant", "render", EXAMPLE, "--out-dir", tmp_path / "new"])
    assert "PLACEHOLDERS" not in newest.stderr  # every shipped catalog: each image is built or mirrored


def test_placeholder_images_are_exactly_the_placeholder_entries_the_tenant_runs(catalog):
    from spbe_kit.desired import desired_state
    from spbe_kit.desired.images import images_in, placeholder_images
    from spbe_kit.request import parse_request

    marked = _with_placeholder(_with_placeholder(catalog, "mail"), "eoffice")
    full = desired_state(parse_request(EXAMPLE.read_text()), marked)
    assert placeholder_images(full, marked) == ["eoffice", "mail"]
    assert placeholder_images(desired_state(parse_request(EXAMPLE.read_text()), catalog), catalog) == []
    assert marked.image("keycloak") in images_in(full)
    no_mail = EXAMPLE.read_text().replace("    mail: {}\n", "").replace("    eoffice: {}\n", "")
    assert placeholder_images(desired_state(parse_request(no_mail), marked), marked) == []


@pytest.mark.parametrize("command", ["catalog images", "request new --region 35.10", "catalog show -o json",
                                     "tenant render examples/kab-banyuwangi.yaml --out-dir {tmp} -o json"])
def test_output_piped_into_head_ends_quietly(tmp_path, command):
    import subprocess
    import sys

    spbe = f"{sys.executable} -m spbe_kit {command.format(tmp=tmp_path / 'out')}"
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {spbe} | head -1"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert "BrokenPipe" not in result.stderr and result.stdout.strip()
    assert result.returncode == 0, result.stderr


def test_request_new_to_stdout_names_no_file_that_does_not_exist(tmp_path):
    text = invoke_assert_code(0, ["request", "new", "--region", "35.10"]).stdout
    assert "Validate with: spbe request validate kab-banyuwangi.yaml" not in text
    assert "Save it as kab-banyuwangi.yaml" in text
    out = tmp_path / "kab.yaml"
    invoke_assert_code(0, ["request", "new", "--region", "35.10", "--out-file", out])
    assert f"Validate with: spbe request validate {out}" in out.read_text()
