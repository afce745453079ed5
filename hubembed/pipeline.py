"""The one place that knows the order of a run: check -> data -> model -> eval before -> train -> eval after ->
save -> card. Everything is written to a staging folder beside the output and moved into place at the end, so an
interrupted run never leaves a folder that looks like a finished model."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from hubembed import compat
from hubembed.config import RUN_FILE, ResolvedRun
from hubembed.errors import DataError, OutputExistsError
from hubembed.types import SHAPES, BuildContext, EvalContext, Score, TrainJob

METRICS_FILE = "metrics.json"


@dataclass
class RunOutcome:
    output: Path
    metrics: dict[str, Any]
    staged: list[str] = field(default_factory=list)


def default_output(run: ResolvedRun) -> Path:
    return Path("runs") / run.loss.info.short


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"output {out} is a file; choose another --output")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"output {out} already holds a run; pass --overwrite to replace it or choose another --output")


def cache_dir() -> Path:
    import os

    root = os.environ.get("HUBEMBED_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hubembed"
    return Path(root)


def train(run: ResolvedRun, *, overwrite: bool = False, log: Callable[[str], None] = print) -> RunOutcome:
    from hubembed import models

    shapes = compat.check(run)
    out = Path(run.output) if run.output else default_output(run)
    run.output = str(out)
    check_output(out, overwrite)
    stage = staging_dir(out)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    started = time.time()
    try:
        (stage / RUN_FILE).write_text(run.to_yaml(), encoding="utf-8")  # first: the run is known even if it dies
        base = models.resolve_model(run.model, log)
        train_ds, data_report = build_data(run, shapes, base.load_from, log)
        model = models.load(base)
        eval_ctx = EvalContext(seed=run.training.seed, cache_dir=cache_dir(), log=log)
        log("Evaluating the base model...")
        before = evaluate(run, model, eval_ctx, "base")
        model = run.loss.plugin.prepare_model(model)
        model = run.trainer.plugin.prepare_model(model)
        log(f"Training on {len(train_ds)} {shapes[-1]} examples with {run.loss.info.name}...")
        result = run.trainer.plugin.train(
            TrainJob(model=model, loss=run.loss.plugin, train_dataset=train_ds, training=run.training, output_dir=stage, log=log)
        )
        log("Evaluating the trained model...")
        after = evaluate(run, model, eval_ctx, "trained")
        shutil.rmtree(stage / "checkpoints", ignore_errors=True)
        model.save(str(stage), create_model_card=False)
        metrics = _metrics(run, base, data_report, before, after, result, started)
        (stage / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        from hubembed import card

        card.write(stage, run.to_dict(), metrics)
        _publish(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return RunOutcome(out, metrics)


def _publish(stage: Path, out: Path) -> None:
    """Move the finished run into place; an older run there is replaced only now that the new one is complete."""
    old = out.parent / f".{out.name}.old"
    if out.exists():
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    stage.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def build_data(run: ResolvedRun, shapes: list[str], model_path: str, log: Callable[[str], None]) -> tuple[Any, list[dict[str, Any]]]:
    """Run the data chain; check each step gave what it declared; report sizes, stats and fingerprints."""
    upstream = None
    report = []
    for step, shape in zip(run.data, shapes):
        ctx = BuildContext(shape=shape, seed=run.training.seed, model=model_path, cache_dir=cache_dir(), log=log)
        result = step.plugin.build(ctx, upstream)
        train_ds = _checked(result, step.info.short, shape)
        upstream = result
        report.append(
            {
                **step.info.record(),
                "shape": shape,
                "examples": len(train_ds),
                "fingerprint": fingerprint(train_ds),
                "stats": ctx.stats,
            }
        )
    return upstream["train"].select_columns(list(SHAPES[shapes[-1]])), report


def _checked(result: Any, step: str, shape: str) -> Any:
    if result is None or "train" not in result:
        raise DataError(f"data step {step} returned no train split; its build() must return a DatasetDict with 'train'")
    ds = result["train"]
    missing = [c for c in SHAPES[shape] if c not in ds.column_names]
    if missing:
        raise DataError(f"data step {step} was asked for {shape} data but its output lacks {', '.join(missing)}")
    if len(ds) == 0:
        raise DataError(f"data step {step} produced no examples; check its input and params")
    return ds


def fingerprint(ds: Any) -> str:
    """sha256 of the rows, short: the same data gives the same fingerprint on any machine."""
    digest = hashlib.sha256()
    for batch in ds.with_format("arrow").iter(batch_size=4096):
        digest.update(json.dumps(batch.to_pydict(), sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def evaluate(run: ResolvedRun, model: Any, ctx: EvalContext, label: str) -> list[Score]:
    ctx.label = label
    scores: list[Score] = []
    for step in run.eval:
        scores.extend(step.plugin.evaluate(model, ctx))
    return scores


def _metrics(run, base, data_report, before, after, result, started) -> dict[str, Any]:
    from hubembed import __version__, hardware
    from hubembed.hardware import resolve_precision

    finished = time.time()
    return {
        "hubembed_version": __version__,
        "base_model": {"id": base.spec, "source": base.source, "revision": base.revision},
        "data": data_report,
        "scores": {"base": [asdict(s) for s in before], "trained": [asdict(s) for s in after]},
        "train": {
            "loss": result.train_loss,
            "runtime_s": round(result.runtime_s, 2),
            "samples": result.samples,
            "samples_per_s": round(result.samples_per_s, 2),
            "steps": result.steps,
            "log_history": result.log_history,
        },
        "precision": resolve_precision(run.training.precision),
        "hardware": hardware.describe(),
        "versions": versions(),
        "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(finished - started, 1),
    }


def versions() -> dict[str, str]:
    import importlib.metadata as md
    import platform

    found = {"python": platform.python_version()}
    for dist in ("hubembed", "sentence-transformers", "transformers", "torch", "accelerate", "datasets", "huggingface-hub", "peft"):
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return found


def score_table(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (task, split, metric, base, trained) for the summary screen and the card."""
    base = {(s["task"], s["split"], s["metric"]): s for s in metrics["scores"]["base"]}
    rows = []
    for s in metrics["scores"]["trained"]:
        key = (s["task"], s["split"], s["metric"])
        rows.append({**s, "base": base[key]["value"] if key in base else None, "trained": s["value"]})
    return rows
