"""The ``remnant`` command line: a thin layer that parses, validates, calls one API function
and prints. Each sub-command lives in its own module and registers itself on :data:`app`.

Exit codes are part of the interface (README.md, "Exit codes"): 0 done, 1 the computation
failed, 2 bad input or usage, 130 interrupted. Every non-zero exit prints one line on stderr
beginning ``error:``; :func:`main` is the only place that turns failures into codes.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import typer

from remnant.errors import ConvergenceError, RemnantInputError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 the computation failed (no convergence, a fold that cannot be "
    "fitted, a file that could not be written); 2 bad input or usage; 130 interrupted. "
    "Each failure prints one line on stderr beginning 'error:'."
)

# Set REMNANT_DEBUG=1 to see the traceback of an unexpected internal error.
DEBUG_ENV = "REMNANT_DEBUG"

app = typer.Typer(
    name="remnant",
    help="Simulate, fit, predict and explain cancer recurrence after surgery.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback(epilog=EXIT_CODES_HELP)
def _root() -> None:
    """remnant: simulate, fit, predict and explain cancer recurrence after surgery."""


def _register() -> None:
    # Imported here so that each command module can import `app` from this package.
    from remnant.cli import anchors, demo, evaluate, fit, predict, serve, simulate
    from remnant.cli import runs as runs_cli
    from remnant.cli import sensitivity as sensitivity_cli
    from remnant.cli import sweep as sweep_cli

    for module in (simulate, evaluate, fit, predict, demo, anchors, serve):
        module.register(app)
    for module in (sweep_cli, runs_cli, sensitivity_cli):
        module.register(app)


_register()


def _error(message: str) -> None:
    text = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {text}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code (0, 1, 2 or 130).

    As a console script (``argv`` None) the process exits with that code, and SIGINT
    (Ctrl-C) and SIGTERM raise KeyboardInterrupt, so that temporary files are removed either
    way.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if argv is None:
        # Ctrl-C and SIGTERM both raise KeyboardInterrupt through this module's handler,
        # whatever a library set for SIGINT before
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
    code = _run(args)
    if argv is None:
        sys.exit(code)
    return code


def _run(args: list[str]) -> int:
    if not args:
        args = ["--help"]  # help, not an error, for a bare `remnant`
    from remnant.files import journal

    with journal() as made:
        code = _run_command(args)
        if code != EXIT_OK:
            made.rollback()  # a failed run leaves no partial answer behind
    return code


def _run_command(args: list[str]) -> int:
    try:
        rv = app(args=args, prog_name="remnant", standalone_mode=False)
    except RemnantInputError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except ConvergenceError as exc:
        _error(f"the computation failed: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _error(f"could not read or write{where}: {exc.strerror or exc}")
        return EXIT_FAILED
    except MemoryError:
        _error("out of memory; try fewer patients or a smaller cohort")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the parser's errors are matched by shape below
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == 2:
            # a usage error: unknown flag, missing option, value of the wrong type
            _error(exc.format_message())
            return EXIT_BAD_INPUT
        if type(exc).__name__ == "Abort":
            _error("interrupted")
            return EXIT_INTERRUPTED
        if os.environ.get(DEBUG_ENV):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); set {DEBUG_ENV}=1 for details")
        return EXIT_FAILED
    if rv == EXIT_INTERRUPTED:
        _error("interrupted")
    return rv if isinstance(rv, int) else EXIT_OK
