"""Turn exceptions into one line and an exit code: 2 for what the user can fix, 1 for our bugs, 130 for Ctrl-C.
HUBEMBED_DEBUG=1 shows the traceback instead."""

from __future__ import annotations

import os
import sys
from typing import Callable

import click

from hubembed.errors import HubembedError


def run_guarded(fn: Callable[[], object]) -> None:
    try:
        fn()
    except HubembedError as err:
        if os.environ.get("HUBEMBED_DEBUG") == "1":
            raise
        click.secho(f"error: {err}", fg="red", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was written to the output folder", err=True)
        sys.exit(130)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
        raise
    except Exception as err:  # a bug, or a library failing in a way we did not foresee
        if os.environ.get("HUBEMBED_DEBUG") == "1":
            raise
        first = str(err).splitlines()[0][:300] if str(err) else ""
        click.secho(f"error: {type(err).__name__}: {first} (set HUBEMBED_DEBUG=1 for the traceback)", fg="red", err=True)
        sys.exit(1)
