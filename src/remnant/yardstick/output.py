"""Writing result files atomically: a temporary file in the target directory, then
``os.replace``, so a reader never sees a half-written file and a failure leaves nothing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[Path], object], suffix: str = "") -> Path:
    """Call ``write(temporary_path)`` and move the result onto ``path``.

    Parameters
    ----------
    path
        Final file; its directory must exist.
    write
        Writes the content to the path it is given.
    suffix
        Suffix of the temporary file (some writers pick the format from it, e.g. ".png").
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp creates the file private (0600); give it the usual permissions instead.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
