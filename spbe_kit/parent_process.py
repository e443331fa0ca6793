"""`spbe` started by a long-lived parent (the portal's worker) ends when that parent ends.

The parent names itself in ``SPBE_PARENT_PID``; the command then asks the kernel for SIGTERM when its parent
goes (``PR_SET_PDEATHSIG``), and stops at once if the parent is already gone. Doing this here, after exec,
rather than in a ``preexec_fn`` keeps Python code out of the gap between fork and exec, which is unsafe in
a parent that runs threads (the portal runs several).
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import MutableMapping

PARENT_PID = "SPBE_PARENT_PID"
_PR_SET_PDEATHSIG = 1


class ParentGone(Exception):
    """The process that started this command ended before the command began."""


def follow_parent(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Arm the parent-death signal when asked to; True when armed. The variable is taken out of the
    environment so that the commands this one runs (the Pulumi engine, Ansible) do not inherit it."""
    value = environ.pop(PARENT_PID, None)
    if value is None:
        return False
    try:
        parent = int(value)
    except ValueError:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False  # not Linux, or refused: run as if started by hand
    if os.getppid() != parent:
        raise ParentGone(f"the process that started this command ({parent}) has already ended")
    return True
