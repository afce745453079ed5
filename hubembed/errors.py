"""The hubembed error tree.

Every error a user can cause is a HubembedError whose message is one line that says what is wrong and how to fix
it; the CLI prints that line and exits with code 2 (see hubembed/cli/_errors.py), or with the code of its class
(GateRefusedError: 3).
"""

from __future__ import annotations


class HubembedError(Exception):
    """Base class: a problem the user can fix; `str(err)` is the one-line message."""

    exit_code = 2


class ConfigError(HubembedError, ValueError):
    """A run config, flag or --set override that cannot be used."""


class UnknownPluginError(HubembedError, KeyError):
    """No plugin of that name; the message offers the closest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PluginError(HubembedError):
    """A plugin that failed to import, broke the contract, or is registered twice."""


class CompatibilityError(HubembedError):
    """The data a run builds does not fit the loss it trains with."""


class DataError(HubembedError, ValueError):
    """Input data that cannot be read or is not of the declared shape."""


class ModelLoadError(HubembedError):
    """A base model that cannot be found locally or on the Hub."""


class OutputExistsError(HubembedError):
    """The output directory already holds a run."""


class HubError(HubembedError):
    """A Hub call that failed. `status` is the HTTP status the Hub answered with (None when it did not answer, or
    the failure was found before any request); the library's exception, when there was one, is the `__cause__`.
    hubembed.hub.hub_error picks the subclass."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple:  # keep `status` through pickling (Exception pickles `args` only)
        return type(self), (str(self), self.status)


class HubAuthError(HubError):
    """No token, or a token the Hub rejects (HTTP 401)."""


class HubNotFoundError(HubError):
    """A repo, revision or file the Hub does not have, or hides from this token (404; 401 when anonymous)."""


class HubPermissionError(HubError):
    """The token may not do this: no write access to the namespace, or a gated repo (HTTP 403)."""


class HubConflictError(HubError):
    """The repo changed under the request: someone pushed at the same time (HTTP 409, 412)."""


class HubUnreachableError(HubError):
    """No usable answer: connection refused, DNS, timeout, offline mode, or a server error worth retrying later
    (HTTP 5xx, 408, 429)."""


class GateRefusedError(HubembedError):
    """The push gate (hubembed.gate) refused the push: the run did not improve on its base model (or a team model)
    by the thresholds given. `lines`: one per failed condition. Nothing was uploaded; exit code 3, so a script can
    tell a refused push from a failed one (2)."""

    exit_code = 3

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines) if lines else "the push gate refused the push")
        self.lines = list(lines)

    def __reduce__(self) -> tuple:
        return type(self), (self.lines,)


class NoSpaceError(HubembedError):
    """A file system filled up during the run."""


class UnfinishedRunError(HubembedError):
    """Training ended and the model is saved in the output folder, but a step after it (evaluation, card) failed."""


def causes(exc: BaseException | None) -> list[BaseException]:
    """`exc` and the exceptions it was raised from, outermost first (what a library's wrapper error hides)."""
    seen: list[BaseException] = []
    while exc is not None and all(exc is not e for e in seen):
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


NOTHING_WRITTEN = "nothing was written to the output folder"  # what Ctrl-C says when no run was left behind


class Interrupted(BaseException):
    """Ctrl-C. The CLI's SIGINT handler raises it instead of KeyboardInterrupt, which click's standalone mode turns
    into 'Aborted!' and exit code 1. Not an Exception, so `except Exception` does not swallow it either. A run that
    knows what it left behind sets `interrupted_message` on it (see hubembed.pipeline.stopped)."""
