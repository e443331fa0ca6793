"""Checkov over the rendered manifests of every example tenant: no failed check, no silent waiver.

A waiver is only allowed as an in-manifest `checkov.io/skipN: CHECK=reason` annotation, and
the reason must be written out. Checkov runs from its own virtualenv (its pins clash with
ours); `.ci/run` installs it, or point SPBE_CHECKOV at an executable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from spbe_kit.paths import cache_dir
from spbe_kit.render import write_manifests

ROOT = Path(__file__).resolve().parents[2]


def checkov_executable() -> str:
    candidates = [os.environ.get("SPBE_CHECKOV"), str(cache_dir() / "venvs" / "checkov" / "bin" / "checkov"),
                  shutil.which("checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("checkov is not installed: run `bash .ci/run` once, or set SPBE_CHECKOV to its executable")


@pytest.fixture(scope="module")
def report(tmp_path_factory, catalog):
    from spbe_kit.desired import desired_state
    from spbe_kit.request import load_request

    root = tmp_path_factory.mktemp("rendered")
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        write_manifests(desired_state(load_request(example), catalog), root / example.stem)
    proc = subprocess.run(
        [checkov_executable(), "--directory", str(root), "--framework", "kubernetes", "--output", "json",
         "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    return (data[0] if isinstance(data, list) else data), root


def test_checkov_scans_every_rendered_object(report):
    data, root = report
    assert data["summary"]["parsing_errors"] == 0
    rendered = len(list(root.rglob("*.yaml")))
    assert data["summary"]["resource_count"] >= rendered
    assert data["summary"]["passed"] > 0


def test_no_checkov_check_fails(report):
    data, _ = report
    failed = [f"{f['check_id']} {f['resource']} ({f['check_name']})" for f in data["results"]["failed_checks"]]
    assert failed == [], "\n".join(failed)


def test_every_waiver_is_an_annotation_with_a_reason(report):
    data, root = report
    waivers = {}
    for path in root.rglob("*.yaml"):
        meta = yaml.safe_load(path.read_text())["metadata"]
        for key, value in (meta.get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert len(reason.split()) >= 5, f"{path.name}: waiver {check} needs a written reason"
                waivers[(meta["name"], check)] = reason
    skipped = data["results"].get("skipped_checks", [])
    assert len(skipped) >= len(waivers) > 0
    for s in skipped:
        reason = s["check_result"].get("suppress_comment")
        assert reason and reason in waivers.values(), f"{s['check_id']} skipped without an annotated reason"
