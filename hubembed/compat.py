"""Check that a run's data chain feeds its loss, before any model or dataset is loaded.

Each data step declares what it consumes and produces; a loss declares the shapes it accepts. `check()` picks, for
every step, the shape it must produce, or raises a CompatibilityError that names the plugins that would fit.
"""

from __future__ import annotations

from hubembed.config import ResolvedRun
from hubembed.errors import CompatibilityError
from hubembed.types import SHAPES


def check(run: ResolvedRun) -> list[str]:
    """Return the shape each data step must produce (same order as run.data); a plugin the installed libraries
    cannot run fails here, before any work."""
    for step in run.steps():
        problem = step.plugin.environment_problem()
        if problem:
            raise CompatibilityError(problem)
    steps = run.data
    _check_order(steps)
    wanted = [s for s in run.loss.plugin.expects if s in _produces(steps[-1])]
    if not wanted:
        raise CompatibilityError(_loss_mismatch(run))
    return _backfill(steps, wanted[0])


def check_chain(steps: list, shape: str | None = None) -> list[str]:
    """The shapes of a data chain built on its own (`hubembed data build`): the last step gives `shape`, or the
    first shape it produces."""
    _check_order(steps)
    produced = _produces(steps[-1])
    if shape is None:
        shape = produced[0]
    elif shape not in produced:
        raise CompatibilityError(
            f"data step {steps[-1].info.short} produces {'/'.join(produced)}, not {shape}; pick one of those"
        )
    return _backfill(steps, shape)


def _a_source_for(shapes: tuple[str, ...]) -> str:
    """An installed source builder that produces one of `shapes` (its short name), for the example in a message."""
    from hubembed.registry import registry

    for info in registry().infos("data"):
        cls = info.load() if info.error is None else None
        if cls is not None and cls.consumes is None and set(cls.produces) & set(shapes):
            return info.short
    return "SOURCE"


def _check_order(steps: list) -> None:
    first = steps[0].plugin
    if first.consumes is not None:
        raise CompatibilityError(
            f"data step {steps[0].info.short} transforms {'/'.join(first.consumes)} data and needs a source "
            f"before it, e.g. --data {_a_source_for(first.consumes)} --data {steps[0].info.short}"
        )
    for step in steps[1:]:
        if step.plugin.consumes is None:
            raise CompatibilityError(
                f"data step {step.info.short} is a source and can only come first; "
                f"give at most one source, then transforms"
            )


def _backfill(steps: list, last: str) -> list[str]:
    """Walk back from the last step's shape: each step produces a shape the next one consumes."""
    shapes = [last]
    for prev, nxt in zip(reversed(steps[:-1]), reversed(steps[1:])):
        fits = [s for s in nxt.plugin.consumes if s in _produces(prev)]
        if not fits:
            raise CompatibilityError(
                f"data step {nxt.info.short} consumes {'/'.join(nxt.plugin.consumes)} but "
                f"{prev.info.short} produces {'/'.join(_produces(prev))}; put a step that produces "
                f"{'/'.join(nxt.plugin.consumes)} before it"
            )
        shapes.insert(0, fits[0])
    return shapes


def _produces(step) -> tuple[str, ...]:
    return tuple(step.plugin.produces)


def _loss_mismatch(run: ResolvedRun) -> str:
    last = run.data[-1]
    produced = _produces(last)
    expects = run.loss.plugin.expects
    losses = _fitting("loss", lambda cls: any(s in produced for s in cls.expects))
    builders = _fitting("data", lambda cls: cls.consumes is None and any(s in expects for s in cls.produces))
    hints = []
    if losses:
        hints.append(f"train it with --plugin {' or --plugin '.join(losses)}")
    if builders:
        hints.append(f"or use data that gives {'/'.join(expects)}: --data {' or --data '.join(builders)}")
    hint = "; ".join(hints) if hints else f"columns {', '.join(SHAPES[expects[0]])} are needed"
    return (
        f"loss {run.loss.info.short} trains on {'/'.join(expects)} data but data step {last.info.short} "
        f"produces {'/'.join(produced)}: {hint}"
    )


def _fitting(kind: str, test) -> list[str]:
    from hubembed.registry import registry

    names = []
    for info in registry().infos(kind):
        if info.error is None and test(info.load()):
            names.append(info.short)
    return sorted(set(names))
