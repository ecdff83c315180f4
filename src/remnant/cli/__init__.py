"""The ``remnant`` command line: a thin layer that parses, validates, calls one API function
and prints. Each sub-command lives in its own module and registers itself on :data:`app`.

Bad input never ends in a traceback: :func:`main` prints one line naming the field and exits
with code 2.
"""

from __future__ import annotations

import sys

import typer

from remnant.errors import RemnantInputError

app = typer.Typer(
    name="remnant",
    help="Simulate, fit, predict and explain cancer recurrence after surgery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """remnant: simulate, fit, predict and explain cancer recurrence after surgery."""


def _register() -> None:
    # Imported here so that each command module can import `app` from this package.
    from remnant.cli import demo, evaluate, fit, predict, simulate

    for module in (simulate, evaluate, fit, predict, demo):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 1 other failure)."""
    try:
        app(args=argv, standalone_mode=False)
    except RemnantInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _exit(2, argv)
    except Exception as exc:  # noqa: BLE001 - typer's parser errors are matched by shape
        kind = type(exc).__name__
        if kind == "Exit":
            return _exit(int(getattr(exc, "exit_code", 0)), argv)
        if kind == "Abort":
            print("error: aborted", file=sys.stderr)
            return _exit(1, argv)
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == 2:
            # a usage error: unknown flag, missing option, value of the wrong type
            print(f"error: {exc.format_message()}", file=sys.stderr)
            return _exit(2, argv)
        raise
    return _exit(0, argv)


def _exit(code: int, argv: list[str] | None) -> int:
    # As a console script (argv is None) exit the process; from tests return the code.
    if argv is None:
        sys.exit(code)
    return code
