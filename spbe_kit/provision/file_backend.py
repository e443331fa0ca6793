"""The local file backend of tenant stacks, made safe against a run killed part-way.

The Pulumi CLI keeps a file:// backend through gocloud's ``fileblob``. Each object is written
to a temporary file and renamed into place (atomic), but by default ``fileblob`` also writes a
metadata "sidecar" (``<name>.attrs``) with a plain create-then-write. A run killed with
SIGKILL between the two leaves an empty sidecar, and from then on every read of that object
fails with ``failed to load checkpoint: EOF``: the tenant can no longer be opened at all.

Pulumi never reads that metadata, so the engine gets the backend URL with
``metadata=skip`` (no sidecars are written), and sidecars torn by older runs or by a plain
``pulumi`` CLI on the same backend are removed before a stack is opened: without one,
``fileblob`` falls back to default attributes, which is what Pulumi sees anyway.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SIDECAR = ".attrs"


def is_file_backend(url: str) -> bool:
    return url.startswith("file://")


def backend_dir(url: str) -> Path | None:
    """The directory of a file:// backend (None for any other backend)."""
    if not is_file_backend(url):
        return None
    parts = urlsplit(url)
    return Path(unquote(parts.netloc + parts.path)).expanduser()


def engine_url(url: str) -> str:
    """The backend URL the engine gets: file:// backends without metadata sidecars."""
    if not is_file_backend(url):
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "metadata" for key, _ in query):
        return url  # the operator chose explicitly
    return urlunsplit(parts._replace(query=urlencode([*query, ("metadata", "skip")])))


def _torn(sidecar: Path) -> bool:
    try:
        text = sidecar.read_bytes()
    except OSError:
        return False
    try:
        return not isinstance(json.loads(text), dict)
    except ValueError:
        return True


def repair_sidecars(root: Path, project: str, stack: str) -> list[Path]:
    """Remove the torn metadata sidecars of one stack (and of the backend's meta.yaml).

    Returns the removed files; intact sidecars stay (they are harmless, merely stale).
    """
    state = root / ".pulumi"
    candidates: list[Path] = [state / f"meta.yaml{SIDECAR}"]
    stacks = state / "stacks" / project
    if stacks.is_dir():
        candidates += [p for p in stacks.iterdir() if p.name.startswith(f"{stack}.") and p.name.endswith(SIDECAR)]
    for directory in (state / "history" / project / stack, state / "backups" / project / stack,
                      *state.glob(f"locks/*/{project}/{stack}")):  # locks/<organization>/<project>/<stack>
        if directory.is_dir():
            candidates += sorted(directory.glob(f"*{SIDECAR}"))
    removed = []
    for sidecar in candidates:
        if sidecar.is_file() and _torn(sidecar):
            sidecar.unlink(missing_ok=True)
            removed.append(sidecar)
    return removed
