"""The one place that knows the order of a run: check -> data -> model -> eval before -> train -> save -> eval
after -> card. Everything is written to a staging folder beside the output and moved into place at the end, so an
interrupted run never leaves a folder that looks like a finished model; once training has ended the model is saved
first, and a later failure still moves it into place (with one line saying what finishes the job). One run at a
time per output folder: a lock file beside it (see `output_lock`)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from hubembed import compat, hardware, outputs
from hubembed.checkpoints import (
    CHECKPOINTS,
    UNFINISHED,
    checkpoint_dirs,
    drop_damaged_checkpoints,
    last_checkpoint,
    resume_point,
)
from hubembed.config import RUN_FILE, ResolvedRun, ResolvedStep, cache_dir
from hubembed.errors import (
    NOTHING_WRITTEN,
    ConfigError,
    DataError,
    HubembedError,
    Interrupted,
    NoSpaceError,
    OutputExistsError,
    UnfinishedRunError,
)
from hubembed.outputs import check_output
from hubembed.record import METRICS_FILE, BaseModel, DataStepReport, RunRecord, Scores, TrainReport, plugin_facts
from hubembed.record import load as load_record
from hubembed.types import SHAPES, BuildContext, EvalContext, Score, TrainJob, shape_columns

@dataclass
class RunOutcome:
    output: Path
    record: RunRecord | None  # None on the ranks of a launched run that are not rank 0


def default_output(run: ResolvedRun) -> Path:
    return Path("runs") / run.loss.info.short


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.partial"


def train(run: ResolvedRun, *, overwrite: bool = False, log: Callable[[str], None] = print, resume: bool = False) -> RunOutcome:
    """Run `run` in this process. `resume`: continue the interrupted run of the output folder from its last checkpoint.
    Inside a rank that `hubembed train --num-processes N` started, the launcher holds the lock and owns the staging
    folder, and only rank 0 evaluates, saves, writes the card and publishes."""
    from hubembed import launch

    shapes = compat.check(run)
    precision = hardware.resolve_precision(run.training.precision)  # fp16 on a CPU fails here, before any work
    out = Path(run.output) if run.output else default_output(run)
    run.output = str(out)
    if launch.launched():
        stage = staging_dir(out)
        try:
            return _run(run, shapes, precision, out, stage, last_checkpoint(stage) if resume else None, log)
        except Exception as err:  # the launcher cleans up; a full disk still gets its one line
            if isinstance(err, HubembedError):  # already one line (e.g. the model is saved, but...)
                raise
            full = outputs.no_space_on(err, out)
            if full is None:
                raise
            raise _no_space_error(full, out, stage) from err
    with outputs.output_lock(out, log):
        stage = open_stage(run, out, overwrite=overwrite, resume=resume, log=log)
        try:
            return _run(run, shapes, precision, out, stage, last_checkpoint(stage) if resume else None, log)
        except BaseException as err:
            stop = stopped(err, stage, out, log)
            if stop is err:
                raise
            raise stop from err


def _run(run: ResolvedRun, shapes: list[str], precision: str, out: Path, stage: Path, checkpoint: Path | None,
         log: Callable[[str], None]) -> RunOutcome:
    from hubembed import launch, models, training

    main = launch.is_main_process()
    started = time.time()
    base = models.resolve_model(run.model, log)
    with launch.main_process_first():  # rank 0 builds (and caches) the data first
        train_ds, data_report, held = build_data(run, shapes, base.load_from, log)
    batch = batch_facts(run, train_ds, launch.world_size())
    model = models.load(base)
    eval_ctx = EvalContext(seed=run.training.seed, cache_dir=cache_dir(), log=log, precision=precision, held_out=held)
    before: list[Score] = []
    if main and run.eval:
        log("Evaluating the base model...")
        before, _ = evaluate(run.eval, model, eval_ctx, "base")
    job = _job(run, model, train_ds, stage, checkpoint, base, log, _training_evaluator(run, eval_ctx, train_ds))
    counts = param_counts(job.model)
    where = f" on {batch['processes']} processes (global batch {batch['global_batch_size']})" if batch["processes"] > 1 else ""
    again = f", resuming from {checkpoint.name}" if checkpoint else ""
    log(f"Training on {len(train_ds)} {shapes[-1]} examples with {run.loss.info.name}{where}{again}...")
    log(f"  {hardware.speed_note(run.training)}")
    result = training.train(job, run.trainer.plugin)
    if not main:
        return RunOutcome(out, None)
    weights = {**counts, **run.trainer.plugin.save(job, stage)}  # first: from here on the model cannot be lost
    train = TrainReport(loss=result.train_loss, runtime_s=round(result.runtime_s, 2), samples=result.samples,
                        samples_per_s=round(result.samples_per_s, 2), steps=result.steps,
                        log_history=tuple(result.log_history), **batch,
                        resumed_from=checkpoint.name if checkpoint else None, kept_step=result.kept_step,
                        eval_s=round(sum(float(e.get("eval_runtime", 0.0)) for e in result.log_history), 2),
                        eval_metric=f"eval_{job.evaluator[1]}" if job.evaluator else None)
    _say_kept(train, log)
    record = _record(run, base, data_report, before, train, weights, started, held)
    return _finish(run, job.model, eval_ctx, record, stage, out, log, started)


def _job(run: ResolvedRun, model: Any, train_ds: Any, stage: Path, checkpoint: Path | None, base: Any,
         log: Callable[[str], None], evaluator: tuple[Any, str] | None = None) -> TrainJob:
    """The model as the loss and the trainer prepare it (seeded: an adapter or a head starts the same on every run
    and rank), and what the trainer needs."""
    from transformers import set_seed

    set_seed(run.training.seed)
    model = run.trainer.plugin.prepare_model(run.loss.plugin.prepare_model(model))
    return TrainJob(
        model=model, loss=run.loss.plugin, train_dataset=train_ds, training=run.training, output_dir=stage, log=log,
        resume_from=checkpoint, base_model_id=base.hub_id, base_revision=base.revision, evaluator=evaluator,
    )


EVAL_SHARE = 0.1  # of the training compute, for all the evaluations during training together
TRAIN_COST = 3  # a training step's forward and backward of a text cost about three forwards


def _training_evaluator(run: ResolvedRun, ctx: EvalContext, train_ds: Any) -> tuple[Any, str] | None:
    """The first evaluator's scorer of held-out rows during training, sized so that `training.evals` calls cost
    about EVAL_SHARE of the training: each encodes about that many texts."""
    if ctx.held_out is None or run.training.evals <= 0:
        return None
    t = run.training
    rows = t.max_steps * t.batch_size if t.max_steps > 0 else len(train_ds) * t.epochs
    texts = rows * len([c for c in train_ds.column_names if c not in ("score", "label")])
    per_call = int(texts * TRAIN_COST * EVAL_SHARE / t.evals)
    for step in run.eval:
        found = step.plugin.training_evaluator(ctx, per_call)
        if found is not None:
            return found
    return None


def _say_kept(train: TrainReport, log: Callable[[str], None]) -> None:
    if train.eval_s:
        share = train.eval_s / train.runtime_s if train.runtime_s else 0.0
        log(f"  held-out evaluation during training: {train.eval_s:.1f} s ({share:.0%} of training)")
    if train.kept_step is not None:
        log(f"  kept step {train.kept_step} of {train.steps}: the best on the held-out split (--set training.keep=last keeps the last)")


def _finish(run: ResolvedRun, model: Any, eval_ctx: EvalContext, record: RunRecord, stage: Path, out: Path,
            log: Callable[[str], None], started: float) -> RunOutcome:
    """Evaluate the saved model, record its figures and card data, and write its card, then publish. Whatever
    fails here, the model is published all the same, with one line saying what failed and the command that
    finishes the job."""
    from hubembed import card, st_card

    step = "metrics"
    try:
        record.save(stage)  # a folder `hubembed eval OUT` can finish, should the rest fail
        step = "evaluation"
        if run.eval:
            log("Evaluating the trained model...")
        after, lead = evaluate(run.eval, model, eval_ctx, "trained")
        record = record.with_scores([], after, lead)
        step = "card"
        record = record.with_model_card_data(st_card.read(model, log)).with_figures(draw_figures(run.eval, model, stage, eval_ctx))
        record = dataclasses.replace(record, duration_s=round(time.time() - started, 1))  # the whole run, evaluations too
        record.save(stage)
        card.write(stage, run.to_dict(), record)
    except BaseException as err:
        with contextlib.suppress(OSError):
            (stage / card.CARD_FILE).unlink()  # no half-written card
        _publish(stage, out)
        unfinished = _unfinished(err, stage, out, step)
        if unfinished is err:  # an interrupt, now knowing what is kept
            raise
        raise unfinished from err
    _publish(stage, out)
    return RunOutcome(out, record)


# after a failure in _finish: what failed, what was not done, and how `hubembed eval OUT` finishes the job
_UNFINISHED = {
    "metrics": ("its metrics could not be written", "its metrics were not written", "evaluate it and write its card with"),
    "evaluation": ("its evaluation failed", "it was not evaluated", "evaluate it and write its card with"),
    "card": ("its card could not be written", "its card was not written", "write the card with"),
}


def _unfinished(err: BaseException, stage: Path, out: Path, step: str) -> BaseException:
    """The one line of a failure after the model was published (naming its files where they are now)."""
    failed, not_done, finish = _UNFINISHED[step]
    command = f"`hubembed eval {out}`"
    if is_interrupt(err):
        err.interrupted_message = f"the trained model is saved in {out}, but {not_done}; {finish} {command}"  # type: ignore[attr-defined]
        return err
    full = outputs.no_space_on(err, out)
    if full is not None:
        return NoSpaceError(f"no space left on {full}: the trained model is saved in {out}, but {failed}; free space, "
                            f"then {finish} {command}")
    why = str(err).splitlines()[0][:200].replace(str(stage), str(out)) if str(err) else ""
    return UnfinishedRunError(f"the trained model is saved in {out}, but {failed} ({type(err).__name__}: {why}); "
                              f"fix that, then {finish} {command}")


def is_interrupt(err: BaseException) -> bool:
    """Ctrl-C: KeyboardInterrupt, or the CLI's own Interrupted (a BaseException click does not turn into 'Aborted!')."""
    return isinstance(err, (KeyboardInterrupt, Interrupted))


def stopped(err: BaseException, stage: Path, out: Path, log: Callable[[str], None]) -> BaseException:
    """Clean up after a run that did not finish, and the exception that says so: an interrupt that knows what is
    left (`interrupted_message`), a full disk as its one line, anything else as it was."""
    raw = isinstance(err, Exception) and not isinstance(err, HubembedError)
    full = outputs.no_space_on(err, out) if raw else None  # before cleaning up frees the space
    kept = abandon(stage)
    if is_interrupt(err):
        if not hasattr(err, "interrupted_message"):  # set already when the model was saved and published
            published = not stage.exists() and (out / METRICS_FILE).is_file()  # by rank 0 of a launched run
            err.interrupted_message = (  # type: ignore[attr-defined]
                f"the trained model is saved in {out}; if its card is missing, write it with `hubembed eval {out}`"
                if published else _resume_hint(kept, stage, out) if kept else NOTHING_WRITTEN)
        return err
    if full is not None:
        return _no_space_error(full, out, stage)
    if kept is not None:
        log(f"The run stopped; {_resume_hint(kept, stage, out)}")
    return err


def _resume_hint(kept: Path, stage: Path, out: Path) -> str:
    return f"{kept.name} is kept in {stage}: continue with `hubembed train --resume {out}`"


# --- staging, checkpoints, resume -----------------------------------------------------------------------------

def _no_space_error(mount: Path, out: Path, stage: Path) -> NoSpaceError:
    kept = last_checkpoint(stage) if stage.is_dir() else None
    if kept is not None:
        return NoSpaceError(f"no space left on {mount}: free space, then continue with `hubembed train --resume {out}` "
                            f"({kept.name} is kept in {stage})")
    return NoSpaceError(f"no space left on {mount}: free space or choose another --output")



def open_stage(run: ResolvedRun, out: Path, *, overwrite: bool, resume: bool, log: Callable[[str], None] = print) -> Path:
    """The staging folder of a new run (made, with hubembed_run.yaml written first), or of the interrupted run that
    `resume` continues (kept as it is, less the checkpoints it cannot resume from). An interrupted run is never
    deleted without --overwrite. Call it holding the output's lock."""
    stage = staging_dir(out)
    if resume:
        resumable(out, locked=True)
        drop_damaged_checkpoints(stage, log)
        return stage
    check_output(out, overwrite)
    if stage.exists():
        kept = last_checkpoint(stage)
        if kept is not None and not overwrite:
            raise OutputExistsError(
                f"{stage} holds an interrupted run ({kept.name}); continue it with `hubembed train --resume {out}` "
                f"or pass --overwrite to start over"
            )
        shutil.rmtree(stage)
    try:
        stage.mkdir(parents=True)
        (stage / RUN_FILE).write_text(run.to_yaml(), encoding="utf-8")  # first: the run is known even if it dies
    except OSError as err:  # e.g. a disk with no room left even for the run file
        shutil.rmtree(stage, ignore_errors=True)
        raise outputs.unwritable(out, err) from None
    return stage


def abandon(stage: Path) -> Path | None:
    """A run that did not finish: keep its staging folder if it holds a checkpoint (to resume), less the checkpoint
    it was writing when it stopped, and return that checkpoint; else remove the folder."""
    kept = last_checkpoint(stage)
    if kept is None:
        shutil.rmtree(stage, ignore_errors=True)
        return None
    for path in checkpoint_dirs(stage):
        if not (path / "trainer_state.json").is_file():
            shutil.rmtree(path, ignore_errors=True)
    return kept


def resumable(out: Path, *, locked: bool = False) -> tuple[Path, Path]:
    """The staging folder and last intact checkpoint of the interrupted run of `out`; one line saying why if none
    (or if the run is still going: `locked` when the caller holds the lock itself)."""
    from hubembed import launch

    stage = staging_dir(out)
    pid = None if locked or launch.launched() else outputs.running_pid(out)  # a rank: its launcher holds the lock
    if pid is not None:
        raise outputs.in_use(out, pid)
    if not (stage / RUN_FILE).is_file():
        if (out / METRICS_FILE).is_file():
            raise ConfigError(f"{out} holds a finished run, nothing to resume; start a new one with --overwrite")
        raise ConfigError(f"no interrupted run of {out} to resume ({stage} does not exist); check the output folder")
    checkpoint, damaged = resume_point(stage)
    if checkpoint is None:
        cut = [(path, why) for path, why in damaged if why != UNFINISHED]
        if cut:
            raise ConfigError(
                f"{cut[0][0].name} of the interrupted run in {stage} is damaged ({cut[0][1]}) and no earlier checkpoint "
                f"is intact; start it over with `hubembed train --config {stage / RUN_FILE} --overwrite`"
            )
        raise ConfigError(
            f"the interrupted run in {stage} stopped before its first checkpoint, so it cannot resume; "
            f"run it again with --overwrite (and --save-steps N to checkpoint more often)"
        )
    return stage, checkpoint


def check_same_run(run: ResolvedRun, stage: Path) -> None:
    """A resumed run must be the run that was interrupted: same pinned plugins, params and training values."""
    from hubembed.config import read_run_file

    stored = read_run_file(stage / RUN_FILE)
    now = run.to_dict()
    for d in (stored, now):
        d.pop("output", None)
    where = _first_difference(stored, now, "")
    if where is not None:
        key, was, is_now = where
        raise ConfigError(
            f"the interrupted run in {stage} has {key}={was!r}, this one {is_now!r}; resume with the same config "
            f"(drop the flags that change it) or start a new run with --overwrite"
        )


def _first_difference(a: Any, b: Any, key: str) -> tuple[str, Any, Any] | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            found = _first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{key}.{i}")
            if found:
                return found
        return None
    return None if a == b else (key, a, b)


def batch_facts(run: ResolvedRun, train_ds: Any, processes: int) -> dict[str, Any]:
    """Batch sizes and negatives per anchor, for metrics.json and the card; a batch the data cannot fill is an error."""
    per = run.training.batch_size
    if processes > 1 and len(train_ds) < per * processes:
        raise DataError(
            f"{processes} processes x batch {per} need {per * processes} examples per step but the data has "
            f"{len(train_ds)}; lower --num-processes or --batch-size, or use more data"
        )
    return {
        "processes": processes,
        "per_process_batch_size": per,
        "global_batch_size": per * processes,
        "negatives_per_anchor": run.loss.plugin.negatives_per_anchor(per, processes, len(train_ds.column_names)),
    }


def param_counts(model: Any) -> dict[str, Any]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_params": trainable, "total_params": total, "trainable_share": round(trainable / total, 6) if total else 0.0}


def train_launched(run: ResolvedRun, *, num_processes: int | None, accelerate_config: str | None, overwrite: bool = False,
                   resume: bool = False, log: Callable[[str], None] = print) -> RunOutcome:
    """Run `run` on several processes: prepare the staging folder here, then start the same resolved run under
    `accelerate launch` (see hubembed.launch); the ranks train, rank 0 publishes the output."""
    from hubembed import launch

    compat.check(run)
    out = Path(run.output) if run.output else default_output(run)
    run.output = str(out)
    launch.check(num_processes, accelerate_config)
    with outputs.output_lock(out, log) as lock:  # held here; the ranks run under it and never take it themselves
        stage = open_stage(run, out, overwrite=overwrite, resume=resume, log=log)
        launch.write_launch_record(stage / CHECKPOINTS, num_processes, accelerate_config)
        program = ["hubembed", "train", "--config", str(stage / RUN_FILE), "--output", str(out)]
        if resume:
            program += ["--resume", str(out)]
        how = f"--config_file {accelerate_config}" if accelerate_config else f"{num_processes} processes"
        log(f"Launching the run with accelerate ({how})...")
        try:
            code = launch.run(program, num_processes, accelerate_config, keep_fds=(lock,))
            if code != 0 or not (out / METRICS_FILE).is_file():
                raise launch.LaunchFailed(f"the launched run failed (exit code {code}, rank logs above); set HUBEMBED_DEBUG=1 to see each rank's traceback")
        except BaseException as err:
            stop = stopped(err, stage, out, log)
            if stop is err:
                raise
            raise stop from err
    return RunOutcome(out, load_record(out))


def _publish(stage: Path, out: Path) -> None:
    """Move the finished run into place; an older run there is replaced only now that the new one is complete."""
    old = out.parent / f".{out.name}.old"
    if out.exists():
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    stage.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # only now: until the model is in place they are a way back


def build_data(run: ResolvedRun, shapes: list[str], model_path: str,
               log: Callable[[str], None]) -> tuple[Any, list[DataStepReport], Any]:
    """Run the data chain; check each step gave what it declared; report sizes, stats and fingerprints; and the
    held-out rows (hubembed.heldout.HeldOut) an evaluator asked for, cut from the source before any transform."""
    from hubembed import heldout

    held: list[Any] = []

    def hold_out(result: Any, shape: str, stats: dict[str, Any]) -> Any:
        ds = result["train"]
        if not run.training.hold_out:
            return ds
        given = _given_held_out(run, result, shape, model_path, log)
        taken = heldout.take(run.eval, ds, shape, _source_name(run.data[0], stats), given)
        if taken is None:
            if run.eval_data:
                raise ConfigError("--eval-data is scored by an evaluator that holds out rows, and this run has none; "
                                  "add one with --eval (see `hubembed plugins list --kind evaluator`)")
            return ds
        held.append(taken)
        rest = "training on all" if given else "training on the other"
        log(f"  held out {len(taken.rows)} {shape} rows ({taken.origin}); {rest} {len(taken.train)}")
        return taken.train

    result, report = build_chain(run.data, shapes, run.training.seed, model_path, log, run.loss.plugin.num_labels(),
                                 hold_out=hold_out)
    train_ds = result["train"]
    rows = train_ds.select_columns(shape_columns(shapes[-1], train_ds.column_names))
    return rows, [DataStepReport(**r) for r in report], (held[0] if held else None)


def _given_held_out(run: ResolvedRun, result: Any, shape: str, model_path: str,
                    log: Callable[[str], None]) -> tuple[Any, str, str | None] | None:
    """Held-out rows the user gave (--eval-data) or the source has (its validation split): (rows, how they came,
    their own name when not the source's)."""
    if run.eval_data:
        step = run.eval_data[0]
        if step.plugin.consumes is not None or shape not in step.plugin.produces:
            raise ConfigError(f"--eval-data: {step.info.short} cannot give {shape} rows like the run's data source; give "
                              f"a file of the same kind as --data (or a data source that produces {shape})")
        built, report = build_chain([step], [shape], run.training.seed, model_path, log)
        name = _source_name(step, report[0]["stats"])
        return built["train"], f"--eval-data {name}", name
    for split in ("validation", "dev"):
        if split in result and len(result[split]):
            return result[split], f"the source's {split} split", None
    return None


def _source_name(step: ResolvedStep, stats: dict[str, Any]) -> str:
    """How the card names a data source: its Hub id, else its file's name (never an absolute path), else the plugin."""
    if stats.get("hub_id"):
        return str(stats["hub_id"])
    for value in dataclasses.asdict(step.plugin.params).values():
        if isinstance(value, str) and value and Path(value).exists():
            return Path(value).name
    return step.info.short


def build_chain(steps: list[Any], shapes: list[str], seed: int, model_path: str, log: Callable[[str], None],
                num_labels: int | None = None, hold_out: Callable[[Any, str, dict[str, Any]], Any] | None = None,
                ) -> tuple[Any, list[dict[str, Any]]]:
    """Run data steps (a source, then transforms) in order; return the last DatasetDict and the per-step report.
    `num_labels`: the loss's bound on pair-class labels. `hubembed train` and `hubembed data build` both go
    through here."""
    upstream = None
    report = []
    for step, shape in zip(steps, shapes):
        log(f"Data step {step.info.short} ({step.info.name}) -> {shape}...")
        ctx = BuildContext(shape=shape, seed=seed, model=model_path, cache_dir=cache_dir(), log=log, num_labels=num_labels)
        result = step.plugin.build(ctx, upstream)
        train_ds = _checked(result, step.info.short, shape)
        if upstream is None and hold_out is not None:  # at the source: transforms (mined negatives) see training rows only
            train_ds = hold_out(result, shape, ctx.stats)
            result = {**result, "train": train_ds}
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
    return upstream, report


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


def evaluate(evaluators: list[ResolvedStep], model: Any, ctx: EvalContext, label: str,
             announce: Callable[[ResolvedStep], None] | None = None) -> tuple[list[Score], str | None]:
    """Every evaluator's scores of `model` (under the run's autocast), and the key of the headline: that of the first
    evaluator that names one among its own scores. `hubembed train` and `hubembed eval` both score through here."""
    ctx.label = label
    scores: list[Score] = []
    lead: str | None = None
    for step in evaluators:
        if announce is not None:
            announce(step)
        with hardware.autocast(ctx.precision):
            own = step.plugin.evaluate(model, ctx)
        scores.extend(own)
        pick = step.plugin.headline(own) if lead is None else None
        lead = pick.key if pick is not None else lead
    return scores, lead


def draw_figures(evaluators: list[ResolvedStep], model: Any, folder: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    """Each evaluator's figures of the trained model for the card; a figure that fails costs one logged line."""
    found: dict[str, dict[str, Any]] = {}
    for step in evaluators:
        try:  # in full precision, as the model is saved
            found.update(step.plugin.figures(model, folder, ctx))
        except Exception as err:  # noqa: BLE001 - a figure must never cost the run; say why it is missing
            ctx.log(f"card: no figure from {step.info.short} ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})")
    return found


def _record(run: ResolvedRun, base: Any, data_report: list[DataStepReport], before: list[Score], train: TrainReport,
            weights: dict[str, Any], started: float, held: Any = None) -> RunRecord:
    from hubembed import __version__

    return RunRecord(
        hubembed_version=__version__,
        base_model=BaseModel(base.spec, base.source, base.revision),
        data=tuple(data_report),
        scores=Scores(base=tuple(before)),
        train=train,
        precision=hardware.resolve_precision(run.training.precision),
        hardware=hardware.describe(),
        versions=versions(),
        requirements=tuple(plugin_requirements(run)),  # pip lines of the plugins' distributions
        started=datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        duration_s=round(time.time() - started, 1),
        weights=weights,
        loss={"name": run.loss.info.name, "stats": dict(run.loss.plugin.stats)},  # filled by its build()
        plugins={step.info.name: plugin_facts(step.plugin) for step in run.steps()},
        held_out=held.facts() if held else None,
    )


def plugin_requirements(run: ResolvedRun) -> list[str]:
    """`distribution==version` of every distribution whose plugins the run used (a local --code file: a comment)."""
    from hubembed.registry import requirements

    return requirements([step.info.record() for step in run.steps()])


def versions() -> dict[str, str]:
    import importlib.metadata as md
    import platform

    found = {"python": platform.python_version()}
    for dist in ("hubembed", "sentence-transformers", "transformers", "torch", "accelerate", "datasets", "huggingface-hub", "peft"):
        try:
            found[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass  # not installed: a version not to record
    return found
