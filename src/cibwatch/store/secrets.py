"""Secrets a case keeps beside its data: ``DIR/keys/<name>``, readable by the owner only.

The review log's signing key and the pseudonymization key live here, outside ``case.duckdb`` and
``tables/``, so exporting or copying the tables never copies a secret with them. A secret is made
once: two processes asking for a missing one at the same moment both get the one that won, because
a finished secret is published with ``link`` (which never replaces a file), not ``rename``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

KEYS = "keys"


def secret_path(case_root: str | Path, name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad secret name {name!r}")
    return Path(case_root) / KEYS / name


def read_secret(case_root: str | Path, name: str) -> bytes | None:
    """The secret ``name`` of the case, or None when it was never made."""
    path = secret_path(case_root, name)
    return path.read_bytes() if path.exists() else None


def secret(case_root: str | Path, name: str, make: Callable[[], bytes]) -> bytes:
    """The secret ``name`` of the case, made with ``make()`` and stored (mode 0600) the first time."""
    path = secret_path(case_root, name)
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_name(f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(make())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()
