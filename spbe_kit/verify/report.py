"""A verification report as a table, JSON or JUnit XML (for CI and auditors' evidence)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from spbe_kit.verify.run import VerifyReport

MARK = {"pass": "ok", "fail": "FAIL", "unverified": "UNVERIFIED", "error": "ERROR"}


def as_table(report: VerifyReport) -> str:
    from spbe_kit.tables import table

    rows = [[r.component, r.check, MARK[r.status], r.detail] for r in report.results]
    counts = report.counts()
    verdict = "verified" if report.verified else "NOT verified"
    summary = (f"{report.tenant}: {verdict} — {counts['pass']} passed, {counts['fail']} failed, "
               f"{counts['unverified']} unverified, {counts['error']} errors ({report.seconds:.1f} s)")
    return table(rows, ["COMPONENT", "CHECK", "RESULT", "DETAIL"]) + "\n\n" + summary


def as_json(report: VerifyReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def as_junit(report: VerifyReport) -> str:
    counts = report.counts()
    suite = ET.Element("testsuite", name=f"spbe verify {report.tenant}", tests=str(len(report.results)),
                       failures=str(counts["fail"]), errors=str(counts["error"]), skipped=str(counts["unverified"]),
                       time=f"{report.seconds:.2f}")
    for result in report.results:
        case = ET.SubElement(suite, "testcase", classname=f"{report.tenant}.{result.component}", name=result.check)
        if result.status == "fail":
            ET.SubElement(case, "failure", message=result.detail)
        elif result.status == "error":
            ET.SubElement(case, "error", message=result.detail)
        elif result.status == "unverified":
            ET.SubElement(case, "skipped", message=result.detail)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
