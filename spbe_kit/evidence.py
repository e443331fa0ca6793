"""What every piece of evidence the kit files says the same way: who acted, and a file's SHA-256."""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from pathlib import Path


def operator() -> str:
    """Who runs this: user@host (the uid when the user has no name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def file_sha256(path: Path) -> str:
    """A file's SHA-256, read in blocks (image layers and export archives are large)."""
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()
