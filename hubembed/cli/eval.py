"""`hubembed eval MODEL_OR_DIR`: score any model with evaluator plugins (chosen by the flags they declare); on a
run folder, also score its base model, update its run record (metrics.json) and re-render the card."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from hubembed.cli import flags
from hubembed.errors import ConfigError, DataError
from hubembed.hardware import PRECISIONS
from hubembed.record import METRICS_FILE


def _log(message: str) -> None:
    click.echo(message, err=True)


def _evaluators(given: dict[str, Any], run_file: dict | None) -> list[Any]:
    """Evaluator steps, params type-checked like a run config's: those the evaluator flags choose (`Flag`), else a
    run folder's own evaluators (which finishes a run whose evaluation or card failed), else the default ones."""
    from hubembed.config import ResolvedStep, make_params, resolve_evaluators
    from hubembed.registry import DEFAULT_EVALUATORS, registry

    if run_file is not None and not given:
        return resolve_evaluators(run_file.get("eval"))
    wanted = flags.chosen("evaluator", given) if given else [(registry().resolve("evaluator", n), {}) for n in DEFAULT_EVALUATORS]
    order = {name: i for i, name in enumerate(DEFAULT_EVALUATORS)}  # the defaults first, as their table always was
    steps = []
    for info, values in sorted(wanted, key=lambda w: (order.get(w[0].short, len(order)), w[0].name)):
        cls = info.load()
        plugin = cls(make_params(cls.Params, values, f"eval ({info.name})"))
        plugin.name = info.name
        steps.append(ResolvedStep("evaluator", plugin, info))
    return steps


@click.command("eval")
@flags.options("evaluator")
@click.argument("model", metavar="MODEL_OR_DIR")
@click.option("--base/--no-base", default=True, show_default=True, help="On a run folder, also score its base model (before -> after).")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Encoding batch size.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Encode under autocast (auto: bf16 where the hardware runs it fast; fp32 for exact fp32 scores).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_(model, base, batch_size, precision, as_json, **evaluator_flags) -> None:
    """Evaluate a model (a Hub id, a model folder, or a hubembed run folder) with evaluator plugins: the ones its
    flags choose, a run folder's own evaluators, else the default ones.

    On a run folder the scores go into its metrics.json and its card (README.md) is re-rendered; push it again
    with `hubembed push DIR`.

    \b
    Examples:
      hubembed eval runs/mnr --mteb STSBenchmark,SciFact --mteb-data ../shared/data
      hubembed eval sentence-transformers/all-MiniLM-L6-v2 --stsb --mteb STSBenchmark
    """
    from hubembed import hardware, models
    from hubembed.config import RUN_FILE
    from hubembed.config import cache_dir
    from hubembed.types import EvalContext

    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} encodes nothing; give 1 or more (default 32)")
    folder = Path(model)
    is_run = (folder / RUN_FILE).is_file() and (folder / METRICS_FILE).is_file()
    saved = _saved(folder) if is_run else None  # read before any work: the scores are added to them
    steps = _evaluators(flags.given(evaluator_flags), saved[0] if saved else None)
    precision = hardware.resolve_precision(precision)  # before the model loads: fp16 on a CPU fails at once
    st_model = models.load(models.resolve_model(model, _log))
    ctx = EvalContext(seed=42, cache_dir=cache_dir(), batch_size=batch_size, log=_log, precision=precision)
    trained, lead = _score(steps, st_model, ctx, "trained", model)
    if saved is None:
        _print([dataclasses.asdict(s) for s in trained], None, as_json, model)
        return
    _update_run(folder, saved, steps, st_model, ctx, trained, lead, base, as_json, model)


def _score(steps: list[Any], model: Any, ctx: Any, label: str, name: str) -> tuple[list[Any], str | None]:
    from hubembed.pipeline import evaluate

    who = "the base model" if label == "base" else name
    return evaluate(steps, model, ctx, label, announce=lambda step: _log(f"Evaluating {who} with {step.info.name}..."))


def _update_run(folder: Path, saved: tuple[dict, Any], steps: list[Any], st_model: Any, ctx: Any, trained: list[Any],
                lead: str | None, base: bool, as_json: bool, model: str) -> None:
    """A run folder: add the scores (and the base model's) to its record, redraw its figures, re-render its card."""
    from hubembed import card, hub
    from hubembed.pipeline import draw_figures
    from hubembed.record import plugin_facts

    run_file, record = saved
    before = _score_base(record.base_model.id, steps, ctx) if base else []
    record = record.with_scores(before, trained, lead)
    record = record.with_extra_evals([s.to_dict() for s in steps], list(run_file.get("eval") or []))
    record = record.with_figures(draw_figures(steps, st_model, folder, ctx))
    record = card.with_installed_plugins(run_file, record.with_plugins({s.info.name: plugin_facts(s.plugin) for s in steps}))
    record.save(folder)
    pushed = hub.last_push(folder)
    path = card.write(folder, run_file, record, repo_id=pushed["repo_id"] if pushed else None)
    keys = {s.key for s in trained}
    rows = [r.to_dict() for r in record.scores.table() if r.score.key in keys]
    _print(rows, "table", as_json, model)
    if not as_json:
        click.echo(f"Updated {folder / METRICS_FILE} and the card {path}; share it with: hubembed push {folder}")


def _score_base(spec: str, steps: list[Any], ctx: Any) -> list[Any]:
    from hubembed import models
    from hubembed.errors import HubembedError

    if not spec:
        return []
    try:
        base_model = models.load(models.resolve_model(spec, _log))
    except HubembedError as err:
        _log(f"The base model {spec} is not available here ({err}): scoring only the trained model (--no-base skips this)")
        return []
    return _score(steps, base_model, ctx, "base", spec)[0]


def _again(folder: Path) -> str:
    from hubembed.config import RUN_FILE

    return f"make it again with `hubembed train --config {folder / RUN_FILE} --output {folder} --overwrite`"


def _saved(folder: Path) -> tuple[dict, Any]:
    """The run file and record of a run folder; one line naming what is cut short or not hubembed's."""
    from hubembed import record as run_record
    from hubembed.config import RUN_FILE, read_run_file
    from hubembed.errors import HubembedError

    try:
        run = read_run_file(folder / RUN_FILE)
    except HubembedError as err:  # the reader says what is wrong and where; this says what else fixes it
        why = str(err).removesuffix("; fix the file").removesuffix("; check the path")
        raise DataError(f"{why}; fix it, or restore it from the Hub repo the run was pushed to") from err
    if not isinstance(run.get("eval") or [], list):
        raise DataError(f"{folder / RUN_FILE} is not a run config (a mapping with model, loss, data, eval, ...); fix it, "
                        f"or restore it from the Hub repo the run was pushed to")
    try:
        return run, run_record.load(folder)
    except DataError as err:
        raise DataError(f"{err}; {_again(folder)}") from err


def _print(rows: list[dict], mode: str | None, as_json: bool, model: str) -> None:
    if as_json:
        click.echo(json.dumps({"model": model, "scores": rows}, indent=2))
        return
    click.echo("")
    click.secho(f"Scores of {model}:", bold=True)
    for row in rows:
        name = f"{row['dataset_name']:<34} {row['split']:<10} {row['metric']:<16}"
        if mode == "table":
            base = row.get("base")
            before = "   -  " if base is None else f"{base:.4f}"
            delta = "" if base is None else f"  ({row['trained'] - base:+.4f})"
            click.echo(f"  {name} {before} -> {row['trained']:.4f}{delta}")
        else:
            click.echo(f"  {name} {row['value']:.4f}")
