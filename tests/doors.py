"""Every door holds: run the ``remnant`` command line and check its contract on one case.

The contract (README.md, "Exit codes"): exit 0 done, 1 the computation failed, 2 bad input
or usage, 130 interrupted; every non-zero exit prints exactly one line on stderr beginning
``error: `` and never a traceback; inputs are byte-identical afterwards (same inode and
mtime); nothing half-written: after a failure no new output path exists, no new file appears
in any output's directory and an existing output is untouched, and after a success only the
outputs are new.

:func:`run_cli` runs one case in-process and records it in :data:`TALLY`, which the plugin
``tests/reliability_report.py`` writes as docs/reliability.md (``make reliability``).
Helpers for the door tests live here too: the fast stand-ins of the slow computations
(:func:`install_fast_predict`, :func:`install_fast_fit`), fault injection
(:func:`replace_everywhere`, :func:`disk_full`) and the snapshots of files and directories.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import signal
import stat
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

EXIT_CODES = (0, 1, 2, 130)
# Python names that must never stand for a flag in a message (the flag is what a user typed).
PYTHON_FIELDS = (
    "n_patients",
    "time_col",
    "event_col",
    "death_col",
    "time_unit",
    "stage_cols",
    "removal_cols",
    "immune_cols",
    "other_cols",
    "categorical_cols",
    "json_out",
    "out_dir",
    "preset_name",
    "scenario_file",
    "patient_file",
    "horizon_years",
    "horizons_years",
    "no_progress",
    "recurrence_free_years",
    "earlier_months",
)
_PYTHON_FIELD_RE = re.compile(r"(?<![\w-])(" + "|".join(PYTHON_FIELDS) + r")(?![\w])")
# Directories whose listing is never watched (they change on their own, or cannot be written).
_UNWATCHED = ("/proc", "/dev", "/sys")
DEFAULT_TIMEOUT = 60.0
VALID_RUN_TIMEOUT = 180.0  # a valid run of a command's whole work (tests/test_doors_cli.py)
CORPUS = Path(__file__).resolve().parent / "data" / "bad"  # the malformed inputs


# ---------------------------------------------------------------- the tally


@dataclass
class Case:
    """One case tried: the command, a label, the exit code and what broke."""

    command: str
    group: str
    label: str
    code: int | None
    traceback: bool = False
    wrong_code: bool = False
    input_changed: bool = False
    partial: bool = False
    bad_message: bool = False
    problems: list[str] = field(default_factory=list)
    message: str = ""  # the first line on stderr

    @property
    def failed(self) -> bool:
        return bool(self.problems)


# (command, label) -> the last run of that case: hypothesis replays a failing example, and a
# replay is the same case.
TALLY: dict[tuple[str, str], Case] = {}


def record(case: Case) -> Case:
    TALLY[(case.command, case.label)] = case
    return case


def tally() -> list[Case]:
    return list(TALLY.values())


# ---------------------------------------------------------------- snapshots


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class FileState:
    """What must not change about an input (or an existing output): content and identity."""

    exists: bool
    kind: str = ""
    digest: str = ""
    inode: int = 0
    mtime_ns: int = 0
    link: str | None = None

    @classmethod
    def of(cls, path: Path) -> FileState:
        if not os.path.lexists(path):
            return cls(False)
        link = os.readlink(path) if path.is_symlink() else None
        try:
            st = path.stat()
        except OSError:
            return cls(True, "broken link", link=link)
        if stat.S_ISREG(st.st_mode) and watched(_absolute(path).parent):
            return cls(True, "file", sha256(path), st.st_ino, st.st_mtime_ns, link)
        if stat.S_ISDIR(st.st_mode):
            return cls(True, "directory", inode=st.st_ino, link=link)
        return cls(True, "special", inode=st.st_ino, link=link)

    def differences(self, now: FileState) -> list[str]:
        out = []
        for name in ("exists", "kind", "digest", "inode", "mtime_ns", "link"):
            if getattr(self, name) != getattr(now, name):
                out.append(name)
        return out


def watched(directory: Path) -> bool:
    text = str(directory)
    return directory.is_dir() and not any(
        text == root or text.startswith(root + "/") for root in _UNWATCHED
    )


def listing(directory: Path, recursive: bool = True) -> set[str]:
    """The entries of ``directory``; with ``recursive``, every path under it (relative)."""
    if not recursive:
        try:
            return set(os.listdir(directory))
        except OSError:
            return set()
    out = set()
    for root, dirs, files in os.walk(directory):
        rel = Path(root).relative_to(directory)
        for name in dirs + files:
            out.add(str(rel / name) if str(rel) != "." else name)
    return out


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.fspath(path)))


# ---------------------------------------------------------------- running one case


class DoorTimeout(BaseException):
    """Raised in the main thread when a case runs longer than its timeout."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise DoorTimeout(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_COMMANDS: dict[int, tuple[Any, Any]] = {}


@contextlib.contextmanager
def _built_once() -> Iterator[None]:
    """Build typer's click command once per session instead of on every call (30 ms each,
    a third of the suite's time); click commands are meant to be reused."""
    import typer.main as tm

    real = tm.get_command

    def get_command(typer_instance: Any) -> Any:
        key = id(typer_instance)
        if key not in _COMMANDS:
            _COMMANDS[key] = (typer_instance, real(typer_instance))
        return _COMMANDS[key][1]

    tm.get_command = get_command
    try:
        yield
    finally:
        tm.get_command = real


@dataclass
class Result:
    code: int | None
    out: str
    err: str
    case: Case

    @property
    def error_line(self) -> str:
        lines = [line for line in self.err.splitlines() if line.strip()]
        return lines[0] if lines else ""


COMMANDS = ("simulate", "evaluate", "fit", "predict", "demo")


def command_of(argv: Sequence[str]) -> str:
    """The sub-command of ``argv``; "remnant" for anything else (no arguments, --help, typos)."""
    return str(argv[0]) if argv and str(argv[0]) in COMMANDS else "remnant"


_TMP_RE = re.compile(r"/tmp/(pytest-of-[^/\s]+/pytest-\d+/[^/\s]+|tmp[\w-]+|doors-[\w-]+)")


def tidy(text: str, roots: Iterable[Path] = ()) -> str:
    """``text`` with temporary directories written as {tmp} and the corpus as {corpus}."""
    for root in sorted({str(r) for r in roots}, key=len, reverse=True):
        if root and root != "/":
            text = text.replace(root, "{tmp}")
    return _TMP_RE.sub("{tmp}", text).replace(str(CORPUS), "{corpus}")


def label_of(argv: Sequence[str], roots: Iterable[Path] = ()) -> str:
    """The argument list as one line, temporary directories written as {tmp}."""
    return tidy(" ".join(str(a) if str(a) else "''" for a in argv), roots)


def mention_problems(line: str, mentions: Iterable[str]) -> list[str]:
    """Which of ``mentions`` the error line lacks (``re:`` regex, ``any:a|b``, or text)."""
    missing = []
    for m in mentions:
        if m.startswith("re:"):
            ok = re.search(m[3:], line) is not None
        elif m.startswith("any:"):
            ok = any(part in line for part in m[4:].split("|"))
        else:
            ok = m in line
        if not ok:
            missing.append(m)
    return missing


def run_cli(
    argv: Sequence[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    outputs: Iterable[str | os.PathLike[str]] = (),
    expect: int | Iterable[int] | None = None,
    mentions: Iterable[str] = (),
    label: str | None = None,
    group: str = "",
    command: str | None = None,
    tmp: Iterable[str | os.PathLike[str]] = (),
    check_names: bool | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Result:
    """Run ``remnant.cli.main(argv)`` in-process and assert the contract; record the case.

    Parameters
    ----------
    argv
        The arguments after ``remnant``.
    inputs
        Files the command reads: byte-identical afterwards, same inode and mtime.
    outputs
        Paths the command was asked to write (files or directories): none new after a
        failure, and nothing else new in their directories; all present after a success.
    expect
        The exit code, or the codes allowed (default: any of 0, 1, 2, 130).
    mentions
        What the ``error:`` line must contain (see :func:`mention_problems`). When given
        (or ``check_names``), the line may not name a Python field (``n_patients``).
    label, group, command
        How the case is listed in the report (default: the arguments, the sub-command).
    tmp
        Directories written as ``{tmp}`` in the default label.
    timeout
        Seconds before the case is stopped and counted as a failure.
    """
    __tracebackhide__ = True  # a broken case is reported by its message, not this source
    from remnant.cli import main

    argv = [str(a) for a in argv]
    command = command or command_of(argv)
    inputs = [Path(p) for p in inputs]
    outputs = [Path(p) for p in outputs]
    mentions = list(mentions)
    allowed = (
        set(EXIT_CODES)
        if expect is None
        else ({expect} if isinstance(expect, int) else set(expect))
    )
    roots = [_absolute(t) for t in tmp]
    label = label or label_of(argv, roots)

    before_inputs = {p: FileState.of(p) for p in inputs}
    before_outputs = {p: FileState.of(p) for p in outputs}
    # the directories that hold an output or an input (their entries), and the outputs that
    # are directories (everything under them)
    parents = {_absolute(p).parent for p in [*outputs, *inputs]} | {Path.cwd()}
    before_parents = {d: listing(d, recursive=False) for d in parents if watched(d)}
    out_dirs = [_absolute(p) for p in outputs if before_outputs[p].kind == "directory"]
    before_out_dirs = {d: listing(d) for d in out_dirs if watched(d)}

    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    raised = ""
    env_debug = os.environ.pop("REMNANT_DEBUG", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with _deadline(timeout), _built_once():
                code = main(argv)
    except DoorTimeout as exc:
        raised = f"timed out: {exc}"
    except SystemExit as exc:
        raised = f"main() raised SystemExit({exc.code!r}) instead of returning the code"
        code = exc.code if isinstance(exc.code, int) else None
    except BaseException as exc:  # noqa: BLE001 - an escaping exception is a traceback
        raised = "".join(traceback.format_exception(exc))
    finally:
        if env_debug is not None:
            os.environ["REMNANT_DEBUG"] = env_debug
    stdout, stderr = out.getvalue(), err.getvalue()

    case = Case(command, group or command, label, code)
    case.message = next((line for line in stderr.splitlines() if line.strip()), "")
    problems = case.problems

    # exit code
    if raised:
        if raised.startswith("Traceback"):
            case.traceback = True
            problems.append("an exception escaped main(): " + raised.strip().splitlines()[-1])
        else:
            problems.append(raised)
        case.wrong_code = True
    if code is not None and code not in EXIT_CODES:
        case.wrong_code = True
        problems.append(f"exit code {code!r} is not one of 0, 1, 2, 130")
    elif code is not None and code not in allowed:
        case.wrong_code = True
        problems.append(f"exit code {code}, expected {' or '.join(map(str, sorted(allowed)))}")
    if not isinstance(code, int) and not raised:
        case.wrong_code = True
        problems.append(f"main() returned {code!r}, not an int")
    if "Traceback" in stdout or "Traceback" in stderr:
        case.traceback = True
        problems.append("a traceback was printed")

    # the error line
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code not in (None, 0):
        error_lines = [line for line in lines if line.startswith("error: ")]
        if len(lines) != 1 or not error_lines or not error_lines[0][len("error: ") :].strip():
            case.bad_message = True
            problems.append(f"stderr is not one 'error: ' line: {stderr.strip()[:300]!r}")
        line = lines[0] if lines else ""
        missing = mention_problems(line, mentions)
        if missing:
            case.bad_message = True
            problems.append(f"the error line does not name {missing}: {line[:300]!r}")
        if (mentions or check_names) and _PYTHON_FIELD_RE.search(line):
            case.bad_message = True
            problems.append(f"the error line names a Python field: {line[:300]!r}")
    elif code == 0 and any(line.startswith("error:") for line in lines):
        case.bad_message = True
        problems.append("exit 0 with an 'error:' line on stderr")

    # inputs
    for p, was in before_inputs.items():
        diff = was.differences(FileState.of(p))
        if diff:
            case.input_changed = True
            problems.append(f"input {p} changed: {', '.join(diff)}")

    # outputs: nothing half-written
    failed = code != 0
    output_names: dict[Path, set[str]] = {}
    for p in outputs:
        output_names.setdefault(_absolute(p).parent, set()).add(_absolute(p).name)
    for p, was in before_outputs.items():
        now = FileState.of(p)
        if failed:
            if not was.exists and now.exists:
                case.partial = True
                problems.append(f"exit {code} but the output {p} was created")
            elif was.exists and was.differences(now):
                case.partial = True
                changed = ", ".join(was.differences(now))
                problems.append(f"exit {code} but the existing output {p} changed: {changed}")
        elif code == 0:
            if not now.exists:
                problems.append(f"exit 0 but the output {p} was not written")
            elif now.kind == "file":
                whole = whole_file_problem(p)
                if whole:
                    case.partial = True
                    problems.append(whole)
    output_paths = {_absolute(o) for o in outputs}
    for d, was_listing in before_parents.items():
        now_listing = listing(d, recursive=False) if d.is_dir() else set()
        new, gone = now_listing - was_listing, was_listing - now_listing
        if failed and new:
            case.partial = True
            problems.append(f"exit {code} but new in {d}: {sorted(new)[:5]}")
        elif code == 0:
            stray = sorted(n for n in new if n not in output_names.get(d, set()))
            if stray:
                case.partial = True
                problems.append(f"exit 0 but stray files in {d}: {stray[:5]}")
        if gone - output_names.get(d, set()):
            problems.append(f"files vanished from {d}: {sorted(gone)[:5]}")
    for d, was_listing in before_out_dirs.items():
        new = (listing(d) if d.is_dir() else set()) - was_listing
        if failed and new:
            case.partial = True
            problems.append(f"exit {code} but new in the output directory {d}: {sorted(new)[:5]}")
    if code == 0:
        for d in output_paths:
            if d.is_dir() and watched(d):
                hidden = sorted(
                    n
                    for n in listing(d) - before_out_dirs.get(d, set())
                    if Path(n).name.startswith(".")
                )
                if hidden:
                    case.partial = True
                    problems.append(f"exit 0 but temporary files left in {d}: {hidden[:5]}")

    case.problems[:] = [tidy(p, roots) for p in problems]
    record(case)
    if problems:
        detail = "\n".join(f"  - {p}" for p in problems)
        raise AssertionError(
            f"{command}: {label}\n{detail}\n--- stdout (end) ---\n{stdout[-1500:]}"
            f"\n--- stderr ---\n{stderr[-3000:]}\n{raised[-3000:] if raised else ''}"
        )
    return Result(code, stdout, stderr, case)


def whole_file_problem(path: Path) -> str:
    """Why ``path`` (written by a successful run) is not a whole file of its kind, or ''."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.read_metadata(path)
        elif suffix == ".html":
            if "</html>" not in path.read_text(encoding="utf-8").lower():
                return f"the report {path} has no closing </html>"
    except Exception as exc:  # noqa: BLE001 - any reader failure means a broken file
        return f"the output {path} is not a whole {suffix} file: {type(exc).__name__}: {exc}"
    return ""


def record_external(
    command: str,
    label: str,
    *,
    code: int | None,
    stdout: str,
    stderr: str,
    expect: int | Iterable[int],
    directory: Path,
    before: set[str],
    allowed_new: Iterable[str] = (),
    group: str = "signals",
) -> Case:
    """Check and record a case run as a separate process (the signal tests)."""
    allowed = {expect} if isinstance(expect, int) else set(expect)
    case = Case(command, group, label, code)
    p = case.problems
    if code not in allowed:
        case.wrong_code = True
        p.append(f"exit code {code}, expected {' or '.join(map(str, sorted(allowed)))}")
    if "Traceback" in stdout or "Traceback" in stderr:
        case.traceback = True
        p.append("a traceback was printed")
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code != 0 and (len(lines) != 1 or not lines[0].startswith("error: ")):
        case.bad_message = True
        p.append(f"stderr is not one 'error: ' line: {stderr.strip()[-400:]!r}")
    new = listing(directory) - before - set(allowed_new)
    if new:
        case.partial = True
        p.append(f"left in {directory}: {sorted(new)[:5]}")
    return record(case)


# ---------------------------------------------------------------- fast stand-ins


class FakeKernelTable:
    """Stands for a fit's kernel table (25 s to build): smooth survival and densities from
    the predictors, so that ``predict`` runs all of its own code in well under a second."""

    def curves(
        self,
        times: np.ndarray,
        eta: np.ndarray,
        sigma: float,
        grade_index: np.ndarray,
        spread: bool,
        band_z: np.ndarray | None = None,  # the real table's bands; the stand-in has none
    ) -> np.ndarray:
        t = np.asarray(times, dtype=float)
        eta = np.asarray(eta, dtype=float)
        rate = 2e-4 * np.exp(np.clip(eta.mean(axis=0), -20.0, 20.0))[:, None]
        surv = np.exp(-rate * t[None, :])
        out = np.empty((eta.shape[1], t.shape[0], 3))
        out[:, :, 0] = surv
        out[:, :, 1] = 0.3 * rate * surv
        out[:, :, 2] = 0.7 * rate * surv
        return out


def install_fast_predict(monkeypatch: Any) -> None:
    """``predict`` without building a kernel table (the explanation itself is real code)."""
    from remnant.inference.model import RemnantFit

    monkeypatch.setattr(RemnantFit, "grade_table", lambda self, grade: FakeKernelTable())


_TINY_FIT: dict[str, Any] = {}


def tiny_fit_dict(real_fit: Callable[..., Any]) -> dict[str, Any]:
    """A real fit (column links) of the 40-row control cohort with few lapse draws, made once
    per session (~3 s; a full fit takes 9 s even on 30 rows); the stand-in for ``fit``
    returns it, whatever the cohort."""
    if not _TINY_FIT:
        from remnant.data import load_file

        cohort = load_file(
            CORPUS / "control.csv", "time", "event", stage_cols=["depth"], other_cols=["score"]
        )
        fitted = real_fit(cohort, n_draws=4, prior_scale=1.0, clock_links=False)
        _TINY_FIT.update(fitted.to_dict())
    return json.loads(json.dumps(_TINY_FIT))


def install_fast_fit(monkeypatch: Any) -> list[Any]:
    """Replace the fit (9 s on 30 rows) by one returning :func:`tiny_fit_dict`; returns the
    list of cohorts it was called with."""
    import remnant.inference.model as fm

    calls: list[Any] = []
    real_fit = fm.fit

    def fast_fit(data: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(data)
        # the checks the real fit makes of its arguments before any work
        try:
            from remnant import arguments as validate
        except ImportError:  # pragma: no cover - the validators moved
            validate = None
        if validate is not None:
            validate.seed("seed", kwargs.get("seed", 0))
        return fm.RemnantFit.from_dict(tiny_fit_dict(real_fit))

    replace_everywhere(monkeypatch, fm.fit, fast_fit)
    return calls


def replace_everywhere(monkeypatch: Any, original: Any, replacement: Any) -> int:
    """Replace ``original`` in every loaded ``remnant`` module that holds it (however the
    command imported it); returns the number of places."""
    n = 0
    for name, module in list(sys.modules.items()):
        if not (name == "remnant" or name.startswith("remnant.")) or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is original:
                monkeypatch.setattr(module, attr, replacement)
                n += 1
    assert n, f"{original!r} is not held by any remnant module"
    return n


def raising(exc: BaseException) -> Callable[..., Any]:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return boom


# ---------------------------------------------------------------- a full disk


@dataclass
class DiskFull:
    directory: Path
    hits: int = 0


def _inside(path: str, directory: Path) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), str(directory)]) == str(directory)
    except ValueError:
        return False


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class _FullFile:
    """A file object whose writes fail with ENOSPC after half of the first block, as on a
    disk that fills up while the file is written."""

    def __init__(self, real: Any, where: str, state: DiskFull) -> None:
        self._real = real
        self._where = where
        self._state = state

    def _fail(self, data: Any) -> None:
        self._state.hits += 1
        with contextlib.suppress(Exception):
            self._real.write(data[: max(1, len(data) // 2)])
            self._real.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._where)

    def write(self, data: Any) -> int:
        self._fail(data)
        return 0

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self._fail(line)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._real)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def disk_full(monkeypatch: Any, directory: str | os.PathLike[str]) -> DiskFull:
    """Make every write to a file under ``directory`` fail with ENOSPC: Python file objects
    (``open``, ``Path.write_text``, ``os.fdopen``, matplotlib), ``os.write`` and pyarrow's
    Parquet writer. Returns a counter of the failed writes."""
    import builtins

    import pyarrow.parquet as pq

    state = DiskFull(Path(os.path.abspath(directory)))
    real_open = io.open
    real_write = os.write

    def full_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        where = _fd_path(file) if isinstance(file, int) else os.fspath(file)
        if isinstance(where, bytes):
            where = os.fsdecode(where)
        if any(c in mode for c in "wax+") and _inside(where, state.directory):
            return _FullFile(handle, where, state)
        return handle

    def full_write(fd: int, data: Any) -> int:
        where = _fd_path(fd)
        if where and _inside(where, state.directory):
            state.hits += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), where)
        return real_write(fd, data)

    def full_parquet(self: Any, *args: Any, **kwargs: Any) -> None:
        state.hits += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "parquet")

    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr(io, "open", full_open)
    monkeypatch.setattr(os, "write", full_write)
    for name in ("write_batch", "write_table", "write"):
        if hasattr(pq.ParquetWriter, name):
            monkeypatch.setattr(pq.ParquetWriter, name, full_parquet)
    monkeypatch.setattr(pq, "write_table", lambda *a, **k: full_parquet(None))
    return state


# ---------------------------------------------------------------- inputs for the door tests


def corpus_module() -> Any:
    """tests/data/bad/make_corpus.py, where the expected outcomes of the corpus are listed."""
    import importlib.util

    if "make_corpus" in sys.modules:
        return sys.modules["make_corpus"]
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module  # dataclasses look their module up while defined
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ there
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write
    return module


def write_model_file(path: Path, cancer: str = "colon") -> Path:
    """The shipped fit for ``cancer`` as a model file of ``remnant fit``'s format."""
    from importlib import resources

    text = resources.files("remnant.model").joinpath("calibrated.json").read_text("utf-8")
    path.write_text(json.dumps(json.loads(text)["models"][cancer]), encoding="utf-8")
    return path
