"""Turn exceptions into one line and an exit code: 2 for what the user can fix, 1 for our bugs, 130 for Ctrl-C.
HUBEMBED_DEBUG=1 shows the traceback instead."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable

import click

from hubembed.errors import NOTHING_WRITTEN, HubembedError, Interrupted



def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted()


def _catch_ctrl_c() -> None:
    """Ctrl-C raises Interrupted (unless SIGINT is ignored, as in a background job started with nohup)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupted)


def run_guarded(fn: Callable[[], object]) -> None:
    _catch_ctrl_c()
    try:
        fn()
    except HubembedError as err:
        if os.environ.get("HUBEMBED_DEBUG") == "1":
            raise
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, Interrupted) as err:
        from hubembed.launch import launched

        if not launched():  # in a rank of a multi-process run, the launcher says it once
            # on a line of its own: after the terminal's ^C, or a progress bar that was cut off
            click.echo(f"\ninterrupted: {getattr(err, 'interrupted_message', NOTHING_WRITTEN)}", err=True)
        sys.exit(130)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
        raise
    except Exception as err:  # a bug, or a library failing in a way we did not foresee
        if os.environ.get("HUBEMBED_DEBUG") == "1":
            raise
        first = str(err).splitlines()[0][:300] if str(err) else ""
        click.secho(f"error: {type(err).__name__}: {first} (set HUBEMBED_DEBUG=1 for the traceback)", fg="red", err=True)
        sys.exit(1)
