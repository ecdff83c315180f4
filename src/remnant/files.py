"""Files a command writes: checked before any work, written whole or not at all.

Every result file goes through :func:`write_atomic`: the content is written to a hidden
temporary file in the target's directory, then renamed onto the target, so a reader never
sees a half-written file and a failure (or an interrupt) leaves the target as it was.

:func:`check_output_file` and :func:`check_output_dir` are called by the command line before
any computation: the parent directory exists and can be written, the path is not a directory
(for a file) or a special file, and it is not one of the command's own inputs.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from remnant.errors import RemnantInputError


class Journal:
    """The files and directories a command created, so that a failed run removes them.

    A command writes several results in turn (a JSON, then plots); when a later one fails,
    the earlier ones would be a partial answer. :func:`journal` records what this run made
    anew and :meth:`rollback` removes it; files that existed before are replaced whole or
    left as they were, never deleted.
    """

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.dirs: list[Path] = []

    def rollback(self) -> None:
        """Remove the files, then the (empty) directories, this run created."""
        for path in reversed(self.files):
            path.unlink(missing_ok=True)
        for directory in reversed(self.dirs):
            try:
                directory.rmdir()
            except OSError:
                pass  # not empty: it holds something this run did not make
        self.files.clear()
        self.dirs.clear()


_JOURNALS: list[Journal] = []


@contextmanager
def journal() -> Iterator[Journal]:
    """Record, while open, the outputs created by :func:`write_atomic` and :func:`make_dir`."""
    record = Journal()
    _JOURNALS.append(record)
    try:
        yield record
    finally:
        _JOURNALS.remove(record)


@contextmanager
def kept() -> Iterator[None]:
    """Write outside every open journal: what is written here outlives a failed run (a
    resumable store's finished chunks are what a later ``--resume`` continues from)."""
    saved = list(_JOURNALS)
    _JOURNALS.clear()
    try:
        yield
    finally:
        _JOURNALS.extend(saved)


def make_dir(path: str | Path) -> Path:
    """Create the output directory ``path`` and any missing parents, recording each one."""
    p = Path(path)
    missing = [d for d in (p, *p.parents) if not d.is_dir()]
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        for record in _JOURNALS:
            record.dirs.append(directory)
    return p


# Prefix of every temporary file: hidden, so that a run killed before the rename leaves
# nothing that a listing or a later run of the same command picks up.
TEMP_PREFIX = "."


def umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    current = os.umask(0)
    os.umask(current)
    return current


def ordinary_permissions(path: str | Path) -> None:
    """Give a temporary file (owner-only from ``mkstemp``) the permissions of an ordinary file."""
    os.chmod(path, 0o666 & ~umask())


def temporary_beside(target: Path, suffix: str = "") -> Path:
    """A new empty hidden file in ``target``'s directory, with ordinary permissions."""
    fd, name = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{target.name}.", suffix=suffix + ".tmp", dir=target.parent
    )
    try:
        os.close(fd)
        ordinary_permissions(name)
    except BaseException:  # an interrupt right after the file was made: not left behind
        os.unlink(name)
        raise
    return Path(name)


def write_atomic(path: str | Path, write: Callable[[Path], object], suffix: str = "") -> Path:
    """Call ``write(temporary_path)`` and move the result onto ``path``.

    Parameters
    ----------
    path
        Final file; its directory must exist.
    write
        Writes the content to the path it is given.
    suffix
        Suffix of the temporary file before ``.tmp`` (some writers pick the format from the
        name, e.g. ``".png"``; matplotlib is also told the format).

    Returns
    -------
    Path
        ``path``.
    """
    target = Path(path)
    existed = target.exists()
    tmp: Path | None = None
    try:
        tmp = temporary_beside(target, suffix)
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    if not existed:
        for record in _JOURNALS:
            record.files.append(target)
    return target


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _check_writable_dir(flag: str, directory: Path, shown: str) -> None:
    if not directory.is_dir():
        raise RemnantInputError(
            flag, "a path in an existing directory", shown, detail=f"no directory {directory}"
        )
    # A real probe: permission bits say nothing for root or on a read-only file system.
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}remnant-probe.", dir=directory)
    except OSError as exc:
        raise RemnantInputError(
            flag,
            "a path in a writable directory",
            shown,
            detail=f"cannot write in {directory}: {exc.strerror or exc}",
        ) from None
    os.close(fd)
    os.unlink(probe)


def _check_not_input(flag: str, path: Path, inputs: Iterable[tuple[str, Path | None]]) -> None:
    for input_flag, given in inputs:
        if given is not None and _same_file(path, Path(given)):
            raise RemnantInputError(
                flag,
                "a path other than the command's inputs",
                str(path),
                detail=f"it is the {input_flag} file; an input is never overwritten",
            )


def check_output_file(
    flag: str,
    path: Path | str,
    *,
    suffix: str | tuple[str, ...] | None = None,
    inputs: Iterable[tuple[str, Path | None]] = (),
) -> Path:
    """Check that ``path`` can receive a result file, before any work.

    Parameters
    ----------
    flag
        The command-line flag that gave the path (named in the error).
    path
        The output file.
    suffix
        Allowed suffix or suffixes (case-insensitive), e.g. ``".json"``.
    inputs
        ``(flag, path)`` of the command's input files; the output may be none of them (same
        resolved path or the same inode, as for a hard link).

    Raises
    ------
    RemnantInputError
        Wrong suffix, a directory or special file, a missing or unwritable parent, an input.
    """
    p = Path(path)
    if p.is_dir():
        raise RemnantInputError(flag, "a file path", str(p), detail="is a directory")
    if p.exists() or p.is_symlink():
        try:
            mode = p.stat().st_mode
        except OSError:
            mode = 0
        if not stat.S_ISREG(mode):
            raise RemnantInputError(
                flag, "a regular file path", str(p), detail="is a special file or a broken link"
            )
    if suffix is not None:
        allowed = (suffix,) if isinstance(suffix, str) else suffix
        if p.suffix.lower() not in allowed:
            raise RemnantInputError(flag, "a file path ending in " + " or ".join(allowed), str(p))
    _check_not_input(flag, p, inputs)
    _check_writable_dir(flag, p.parent if str(p.parent) else Path("."), str(p))
    return p


def check_output_dir(
    flag: str, path: Path | str, *, inputs: Iterable[tuple[str, Path | None]] = ()
) -> Path:
    """Check that ``path`` is a writable directory, or can be created in an existing one.

    Raises
    ------
    RemnantInputError
        ``path`` is a file, or neither it nor its parent is a writable directory, or it is
        one of the inputs.
    """
    if isinstance(path, str) and not path.strip():
        # an empty value is an unset variable in a script, not a wish for the current directory
        raise RemnantInputError(flag, "a directory path (use . for the current directory)", path)
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RemnantInputError(flag, "a directory", str(p), detail="is a file")
    _check_not_input(flag, p, inputs)
    _check_writable_dir(flag, p if p.is_dir() else p.parent, str(p))
    return p


def check_planned_files(
    flag: str, files: Iterable[Path], *, inputs: Iterable[tuple[str, Path | None]] = ()
) -> None:
    """The files a directory output will receive (``--report DIR`` -> ``DIR/x.csv``) can be
    written and are none of the inputs; a directory still to be created holds none."""
    inputs = list(inputs)
    for target in files:
        if Path(target).parent.is_dir():
            check_output_file(flag, target, inputs=inputs)


def read_toml(path: str | os.PathLike[str], field: str) -> dict[str, Any]:
    """The tables of a TOML file; a missing or malformed file raises
    :class:`RemnantInputError` naming ``field`` (the flag or argument that gave the path)."""
    import tomllib

    p = Path(path)
    if not p.is_file():
        raise RemnantInputError(field, "an existing TOML file", str(path))
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RemnantInputError(
            field, "a valid TOML file", str(path), detail=str(exc).splitlines()[0]
        ) from None
