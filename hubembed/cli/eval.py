"""`hubembed eval MODEL_OR_DIR`: score any model with the STSB and MTEB evaluator plugins; on a run folder, also
score its base model, update metrics.json and re-render the card."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from hubembed.errors import ConfigError, DataError
from hubembed.hardware import PRECISIONS


def _log(message: str) -> None:
    click.echo(message, err=True)


def _evaluators(stsb: bool, mteb_tasks: str | None, mteb_data: str | None, run_file: dict | None) -> list[Any]:
    """Evaluator plugins through the registry, params type-checked like a run config's. A run folder with no
    evaluator flags gets its own evaluators again (which finishes a run whose evaluation or card failed)."""
    from hubembed.config import make_params, resolve_evaluators
    from hubembed.registry import registry

    if run_file is not None and not (stsb or mteb_tasks or mteb_data):
        return [(s.info, s.plugin) for s in resolve_evaluators(run_file.get("eval"))]

    wanted: list[tuple[str, dict[str, Any]]] = []
    if stsb or not mteb_tasks:
        wanted.append(("stsb", {}))
    if mteb_tasks:
        wanted.append(("mteb", {"tasks": mteb_tasks, **({"data_dir": mteb_data} if mteb_data else {})}))
    elif mteb_data:
        raise ConfigError("--mteb-data needs --mteb TASK,...: name the MTEB tasks to read from it")
    steps = []
    for name, values in wanted:
        info = registry().resolve("evaluator", name)
        cls = info.load()
        plugin = cls(make_params(cls.Params, values, f"eval ({info.name})"))
        plugin.name = info.name
        steps.append((info, plugin))
    return steps


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    """Scores by task/split/metric: new values replace old ones, new keys are appended."""
    key = lambda s: (s["task"], s["split"], s["metric"])  # noqa: E731
    fresh = {key(s): s for s in new}
    merged = [fresh.pop(key(s), s) for s in old]
    return merged + list(fresh.values())


@click.command("eval")
@click.argument("model", metavar="MODEL_OR_DIR")
@click.option("--stsb", is_flag=True, help="STS Benchmark validation and test (the default for a model when nothing else is asked; a run folder's default is its own evaluators).")
@click.option("--mteb", "mteb_tasks", metavar="TASK,...", help="MTEB tasks, e.g. STSBenchmark,SciFact.")
@click.option("--mteb-data", type=click.Path(file_okay=False), help="Folder with local task data (e.g. scifact/ in BEIR layout).")
@click.option("--base/--no-base", default=True, show_default=True, help="On a run folder, also score its base model (before -> after).")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Encoding batch size.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Encode under autocast (auto: bf16 where the hardware runs it fast; fp32 for exact fp32 scores).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def eval_(model, stsb, mteb_tasks, mteb_data, base, batch_size, precision, as_json) -> None:
    """Evaluate a model (a Hub id, a model folder, or a hubembed run folder) on STSB and MTEB tasks.

    On a run folder the scores go into its metrics.json and its card (README.md) is re-rendered; push it again
    with `hubembed push DIR`.

    \b
    Examples:
      hubembed eval runs/mnr --mteb STSBenchmark,SciFact --mteb-data ../shared/data
      hubembed eval sentence-transformers/all-MiniLM-L6-v2 --stsb --mteb STSBenchmark
    """
    from dataclasses import asdict

    from hubembed import hardware, models
    from hubembed.config import RUN_FILE
    from hubembed.pipeline import METRICS_FILE, cache_dir
    from hubembed.types import EvalContext

    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} encodes nothing; give 1 or more (default 32)")
    folder = Path(model)
    is_run = (folder / RUN_FILE).is_file() and (folder / METRICS_FILE).is_file()
    if is_run:  # read before any work: the scores are added to them
        metrics, run_file = _run_metrics(folder), _run_file(folder)
    steps = _evaluators(stsb, mteb_tasks, mteb_data, run_file if is_run else None)
    precision = hardware.resolve_precision(precision)  # before the model loads: fp16 on a CPU fails at once
    resolved = models.resolve_model(model, _log)
    st_model = models.load(resolved)
    ctx = EvalContext(seed=42, cache_dir=cache_dir(), batch_size=batch_size, log=_log, label="trained",
                      precision=precision)

    def run_all(m: Any, label: str) -> list[dict]:
        ctx.label = label
        scores = []
        for info, plugin in steps:
            _log(f"Evaluating {'the base model' if label == 'base' else model} with {info.name}...")
            with hardware.autocast(ctx.precision):
                scores.extend(asdict(s) for s in plugin.evaluate(m, ctx))
        return scores

    trained = run_all(st_model, "trained")
    if not is_run:
        _print(trained, None, as_json, model)
        return

    before: list[dict] = []
    if base:
        before = _score_base(metrics, run_all)
    metrics["scores"]["base"] = _merge(metrics["scores"].get("base", []), before)
    metrics["scores"]["trained"] = _merge(metrics["scores"].get("trained", []), trained)
    _record_evaluators(run_file, metrics, steps)
    if any(info.short == "stsb" for info, _ in steps):
        from hubembed import card

        metrics.setdefault("card", {})["stsb_scatter"] = card.draw_stsb_scatter(st_model, folder)
    _write_json(folder / METRICS_FILE, metrics)
    from hubembed import card, hub

    pushed = hub.last_push(folder)
    path = card.rewrite(folder, repo_id=pushed["repo_id"] if pushed else None)
    keys = {(s["task"], s["split"], s["metric"]) for s in trained}
    from hubembed.pipeline import score_table

    rows = [r for r in score_table(metrics) if (r["task"], r["split"], r["metric"]) in keys]
    _print(rows, "table", as_json, model)
    if not as_json:
        click.echo(f"Updated {folder / METRICS_FILE} and the card {path}; share it with: hubembed push {folder}")


def _score_base(metrics: dict, run_all) -> list[dict]:
    from hubembed import models
    from hubembed.errors import HubembedError

    spec = metrics.get("base_model", {}).get("id")
    if not spec:
        return []
    try:
        return run_all(models.load(models.resolve_model(spec, _log)), "base")
    except HubembedError as err:
        _log(f"The base model {spec} is not available here ({err}): scoring only the trained model (--no-base skips this)")
        return []


def _again(folder: Path) -> str:
    from hubembed.config import RUN_FILE

    return f"make it again with `hubembed train --config {folder / RUN_FILE} --output {folder} --overwrite`"


def _run_metrics(folder: Path) -> dict:
    """metrics.json of a run folder; one line naming it if it is cut short or not hubembed's."""
    from hubembed.pipeline import METRICS_FILE

    path = folder / METRICS_FILE
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}; check the file, or {_again(folder)}") from err
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON (cut short? {err.msg} at line {err.lineno}); {_again(folder)}") from err
    scores = metrics.get("scores") if isinstance(metrics, dict) else None
    if not (isinstance(scores, dict) and all(isinstance(scores.get(k, []), list) for k in ("base", "trained"))):
        raise DataError(f"{path} has no scores lists, so it is not a hubembed metrics file; {_again(folder)}")
    return metrics


def _run_file(folder: Path) -> dict:
    """hubembed_run.yaml of a run folder, for the evaluators it names."""
    import yaml

    from hubembed.config import RUN_FILE

    path = folder / RUN_FILE
    restore = "fix it, or restore it from the Hub repo the run was pushed to"
    try:
        run = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}; {restore}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DataError(f"{path} is not valid YAML{f' at line {mark.line + 1}' if mark else ''}; {restore}") from err
    if not isinstance(run, dict) or not isinstance(run.get("eval") or [], list):
        raise DataError(f"{path} is not a run config (a mapping with model, loss, data, eval, ...); {restore}")
    return run


def _record_evaluators(run: dict, metrics: dict, steps: list) -> None:
    """Evaluators that are not part of the run are listed in metrics.json["extra_evals"] (the card cites them)."""
    from hubembed.config import params_to_dict

    in_run = {(e.get("name"), json.dumps(e.get("params"), sort_keys=True)) for e in run.get("eval") or [] if isinstance(e, dict)}
    extra = metrics.setdefault("extra_evals", [])
    for info, plugin in steps:
        record = {**info.record(), "params": params_to_dict(plugin.params)}
        key = (record["name"], json.dumps(record["params"], sort_keys=True))
        if key not in in_run and key not in {(e["name"], json.dumps(e["params"], sort_keys=True)) for e in extra}:
            extra.append(record)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


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
