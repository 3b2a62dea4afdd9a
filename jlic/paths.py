"""The one place that writes files for jlic: every output goes through :func:`atomic_write`.

A failure never leaves a half-written file: the bytes go to a temporary file in the same folder, are flushed
to disk, and replace the target in one ``os.replace``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputFolderError(FileNotFoundError):
    """The folder an output should be written into does not exist (one-line message)."""


def atomic_write(path: str | os.PathLike[str], data: bytes, make_parents: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    ``make_parents``: create the folder if missing (a run's own outputs); otherwise a missing folder raises
    :class:`OutputFolderError` (a user-named output path with a typo must not create folders)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if make_parents:
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise OutputFolderError(f"output folder does not exist: {folder}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, make_parents: bool = False) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(path, text.encode(), make_parents)
