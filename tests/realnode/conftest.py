"""The end-to-end figures (times, memory per component) in the session's summary, so CI logs carry them."""

from __future__ import annotations

import json


def pytest_terminal_summary(terminalreporter):
    from tests.realnode.test_end_to_end import FIGURES

    if FIGURES:
        terminalreporter.write_sep("-", "real node figures")
        terminalreporter.write_line(json.dumps(FIGURES, indent=2))
