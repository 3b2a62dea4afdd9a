"""What every command shares: the one-line error, its exit code, and reading the user's images.

Library errors that are the user's to fix (a corrupt ``.jlic``, an unusable export, an unreadable image, an
output folder that does not exist, a bucket that is missing or refuses this account) are printed by
:func:`run` as one line with exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jlic.codec.export import ExportError
from jlic.data.image import ImageReadError, read_image_with_warnings
from jlic.entropy.bitstream import BitstreamError
from jlic.paths import OutputFolderError, StorageError

EXIT_ERROR = 2
USER_ERRORS = (BitstreamError, ExportError, ImageReadError, OutputFolderError, StorageError)


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def run(fn: Callable[[list[str]], int], argv: list[str], prog: str,
        user_errors: tuple[type[BaseException], ...] = ()) -> int:
    """``fn(argv)``, with user errors (``CliError``, :data:`USER_ERRORS`, ``user_errors``) as one line on
    stderr and exit code 2."""
    try:
        return int(fn(argv) or 0)
    except (CliError, *USER_ERRORS, *user_errors) as e:
        print(f"jlic {prog}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (PermissionError, IsADirectoryError) as e:
        print(f"jlic {prog}: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return EXIT_ERROR


def read_image(path: str | Path, max_pixels: int | None = None, prog: str | None = None) -> np.ndarray:
    """Read an image as HxWx3 uint8 (:func:`jlic.data.image.read_image_with_warnings`: EXIF orientation, ICC
    profile, pixel limit); lossy conversions (alpha dropped, 16-bit -> 8-bit, extra frames) are printed as
    warnings on stderr. Raises :class:`jlic.data.image.ImageReadError` (one line) for a missing or
    non-image file."""
    image, warnings = read_image_with_warnings(path, max_pixels)
    for w in warnings:
        print(f"jlic {prog or 'read'}: warning: {w}", file=sys.stderr)
    return image
