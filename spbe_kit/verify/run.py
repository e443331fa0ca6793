"""Run the verification suite (pytest + testinfra, in a child process) and read back one result per check."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spbe_kit.errors import SpbeError
from spbe_kit.kubectl import find_kubectl, path_with
from spbe_kit.verify.targets import Targets

SUITE = Path(__file__).resolve().parent / "suite"


@dataclass(frozen=True)
class CheckResult:
    component: str
    check: str
    status: str  # pass | fail | unverified | error
    detail: str = ""
    host: str = ""


@dataclass
class VerifyReport:
    tenant: str
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "unverified": 0, "error": 0}
        for result in self.results:
            out[result.status] += 1
        return out

    @property
    def verified(self) -> bool:
        """True only when every check ran and passed: a skipped or unreachable check is not a pass."""
        return bool(self.results) and all(r.status == "pass" for r in self.results)

    def to_dict(self) -> dict:
        return {"tenant": self.tenant, "verified": self.verified, "counts": self.counts(),
                "seconds": round(self.seconds, 2), "results": [asdict(r) for r in self.results]}


def _detail(element: ET.Element) -> str:
    message = element.get("message") or (element.text or "")
    for prefix in ("AssertionError: ", "Skipped: "):
        message = message.removeprefix(prefix)
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first[:300]


def _parse_junit(path: Path, targets: Targets) -> list[CheckResult]:
    results = []
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        component = module.removeprefix("test_")
        check = case.get("name", "").removeprefix("test_").replace("_", " ")
        host = targets.targets[component].host if component in targets.targets else ""
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        if error is not None:
            results.append(CheckResult(component, check, "error", _detail(error), host))
        elif failure is not None:
            results.append(CheckResult(component, check, "fail", _detail(failure), host))
        elif skipped is not None:
            results.append(CheckResult(component, check, "unverified", _detail(skipped), host))
        else:
            results.append(CheckResult(component, check, "pass", "", host))
    return results


def suite_checks() -> dict[str, list[str]]:
    """Every check of the suite, per component, as named in reports."""
    import re

    return {p.stem.removeprefix("test_"): [n.replace("_", " ") for n in re.findall(r"^def test_(\w+)", p.read_text(), re.M)]
            for p in sorted(SUITE.glob("test_*.py"))}


def _missing_checks(results: list[CheckResult], targets: Targets) -> list[CheckResult]:
    """A check of a targeted component with no result did not run: an error, never a silent pass."""
    seen = {(r.component, r.check) for r in results}
    return [CheckResult(component, check, "error", "the check produced no result", targets.targets[component].host)
            for component, checks in suite_checks().items() if component in targets.targets
            for check in checks if (component, check) not in seen]


def run_suite(targets: Targets, expected: list[str] | None = None, timeout: int = 600) -> VerifyReport:
    """Every check of every targeted component; components in `expected` without a target are reported
    as unverified, never silently left out."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="spbe-verify-") as tmp:
        tmp_path = Path(tmp)
        targets_file, junit, ini = tmp_path / "targets.json", tmp_path / "junit.xml", tmp_path / "pytest.ini"
        targets.write(targets_file)
        ini.write_text("[pytest]\n")
        # nothing from the caller's pytest settings may select or skip checks (PYTEST_ADDOPTS -k ...)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update({"SPBE_VERIFY_TARGETS": str(targets_file), "PYTHONDONTWRITEBYTECODE": "1"})
        kubectl = find_kubectl()  # testinfra's kubectl backend runs `kubectl exec` from PATH
        if kubectl is not None:
            env["PATH"] = path_with(kubectl, env.get("PATH"))
        cmd = [sys.executable, "-m", "pytest", str(SUITE), "-c", str(ini), "--rootdir", str(SUITE),
               "-p", "no:cacheprovider", "--assert=plain", "-q", "--no-header", f"--junitxml={junit}",
               "-o", "junit_family=xunit1", "-o", "addopts="]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SpbeError(f"verification did not finish within {timeout} s",
                            hint="are the component hosts reachable? try one with --component") from None
        if proc.returncode not in (0, 1) or not junit.exists():  # 0 all passed, 1 some failed; else it broke
            raise SpbeError(f"the verification suite did not run to the end (pytest exit {proc.returncode}): "
                            f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        results = _parse_junit(junit, targets)
    results += _missing_checks(results, targets)
    for component in expected or []:
        if component not in targets.targets:
            results.append(CheckResult(component, "all checks", "unverified",
                                       targets.unchecked.get(component, "no reachable host for this component")))
    order = {c: i for i, c in enumerate(["database", "identity", "mail", "monitoring", "eoffice"])}
    results.sort(key=lambda r: order.get(r.component, 99))
    return VerifyReport(targets.tenant, results, time.monotonic() - started)
