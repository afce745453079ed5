"""The training runner every trainer plugin trains with, so checkpoints, `--resume`, precision and length-grouped
batches work the same for the built-in trainers and third-party ones.

    from hubembed.api import Trainer

    @dataclass(frozen=True)
    class Params:
        weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})  # a training argument

    class CosineTrainer(Trainer):
        Params = Params

        def arguments(self, job):  # what else differs from the run's values
            return {"lr_scheduler_type": "cosine"}
        # no train() of its own: `train(job, trainer)` below trains it with the runner

From the run (`job.training`) the runner takes epochs or max_steps, the batch size, learning rate, warmup, seed and
logging; the precision (`auto` resolved by hubembed.hardware; bf16/fp16 train under autocast, which is taken off
again afterwards so evaluation and saving see the model as it is saved); batches of texts of similar length
(hubembed.batching), with no text twice in a batch for losses with in-batch negatives; a checkpoint every
`save_steps` into <output_dir>/checkpoints, the last `save_total_limit` kept, which `hubembed train --resume`
continues from (`job.resume_from`). Launched with `accelerate launch` or torchrun, the SentenceTransformerTrainer
reads the ranks from the environment and trains data-parallel, so neither the runner nor a plugin knows how it was
started.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from pathlib import Path
from typing import Any, Mapping

from hubembed.batching import batch_sampler
from hubembed.checkpoints import CHECKPOINTS, checkpoint_damage
from hubembed.errors import ConfigError, PluginError
from hubembed.hardware import resolve_precision
from hubembed.types import Trainer, TrainJob, TrainResult

__all__ = ["argument_names", "arguments", "build_trainer", "run", "train", "trainer_arguments"]


@functools.lru_cache(maxsize=1)
def argument_names() -> frozenset[str]:
    """The names SentenceTransformerTrainingArguments takes: what a trainer's `arguments()` may set."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    return frozenset(f.name for f in dataclasses.fields(SentenceTransformerTrainingArguments) if f.init)


def _run_values(job: TrainJob) -> dict[str, Any]:
    """The training-argument values the run itself gives (before any trainer's own)."""
    import torch

    t = job.training
    precision = resolve_precision(t.precision)
    return {**dict(
        output_dir=str(job.output_dir / CHECKPOINTS),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        learning_rate=t.lr,
        warmup_steps=t.warmup_ratio,  # a float < 1 is a ratio in transformers 5
        seed=t.seed,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if t.save_steps > 0 else "no",
        save_steps=max(t.save_steps, 1),
        save_total_limit=t.save_total_limit,
        report_to="none",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        # repeated texts in a batch would be false in-batch negatives
        batch_sampler=batch_sampler(t.group_by_length, no_duplicates=job.loss.in_batch_negatives),
    ), **_evaluation_values(job)}


def _evaluation_values(job: TrainJob) -> dict[str, Any]:
    """Score the held-out rows `training.evals` times during the run, but at most every `logging_steps` steps (a
    short run is not mostly evaluations and checkpoints); with `keep: best`, checkpoint at each evaluation and load
    the best one at the end."""
    t = job.training
    if job.evaluator is None or t.evals <= 0:
        return {}
    every = max(math.ceil(total_steps(job) / t.evals), t.logging_steps)
    values: dict[str, Any] = dict(eval_strategy="steps", eval_steps=every)
    if t.keep == "best":
        values.update(load_best_model_at_end=True, metric_for_best_model=f"eval_{job.evaluator[1]}", greater_is_better=True,
                      save_strategy="steps", save_steps=every)  # the best must be a checkpoint to be loaded back
    return values


def total_steps(job: TrainJob) -> int:
    """The optimizer steps the run will take (max_steps, else the epochs over the data on every process)."""
    from hubembed.launch import world_size

    t = job.training
    if t.max_steps > 0:
        return t.max_steps
    per_epoch = math.ceil(len(job.train_dataset) / (t.batch_size * world_size()))
    return max(1, math.ceil(per_epoch * t.epochs))


def arguments(job: TrainJob, overrides: Mapping[str, Any] | None = None) -> Any:
    """The SentenceTransformerTrainingArguments of `job`: the run's values, then a trainer's `overrides`."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    overrides = dict(overrides or {})
    _check_names(overrides)
    values = {**_run_values(job), **overrides}  # outside the try: a precision the machine lacks is its own error
    try:
        return SentenceTransformerTrainingArguments(**values)
    except ValueError as err:  # transformers refuses a combination; say whose values they were
        own = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "none"
        raise PluginError(f"SentenceTransformerTrainingArguments refuses these values (the trainer's own: {own}): "
                          f"{' '.join(str(err).split())}") from err


# what the runner owns: a trainer that set these would break checkpoints, --resume or the run's own values
RUNNER_OWNS = frozenset({"output_dir", "save_strategy", "save_steps", "save_total_limit", "batch_sampler", "seed",
                         "per_device_train_batch_size", "num_train_epochs", "max_steps", "report_to", "use_cpu",
                         "eval_strategy", "eval_steps", "load_best_model_at_end", "metric_for_best_model"})


def _check_names(overrides: Mapping[str, Any]) -> None:
    """A name that is no training argument is a typo in a trainer plugin: one line, with the closest name; one the
    runner owns is refused (the run's values decide it)."""
    owned = sorted(set(overrides) & RUNNER_OWNS)
    if owned:
        raise PluginError(
            f"the trainer sets {', '.join(owned)}, which the runner takes from the run (checkpoints, --resume and the "
            f"run's training values depend on it); drop it from the trainer's params and arguments()"
        )
    names = argument_names()
    unknown = sorted(set(overrides) - names)
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise PluginError(
        f"the trainer's arguments() names {', '.join(unknown)}, which SentenceTransformerTrainingArguments does not "
        f"take{hint}; return only its field names (hubembed.training.argument_names())"
    )


def build_trainer(job: TrainJob, overrides: Mapping[str, Any] | None = None) -> Any:
    """The SentenceTransformerTrainer that `run` trains `job` with (the loss built from `job.loss` for the model)."""
    from sentence_transformers import SentenceTransformerTrainer

    from transformers.trainer_callback import ProgressCallback

    args = arguments(job, overrides)
    evaluator = job.evaluator[0] if args.eval_strategy != "no" else None
    trainer = SentenceTransformerTrainer(model=job.model, args=args, train_dataset=job.train_dataset, loss=job.loss.build,
                                         evaluator=evaluator, callbacks=[_last_step_callback()] if evaluator is not None else None)
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(_quiet_progress())
    return trainer


def _quiet_progress() -> Any:
    from transformers.trainer_callback import ProgressCallback

    class QuietProgress(ProgressCallback):
        """The progress bar without the raw log dicts under it: the losses and held-out scores go to the run
        record and the card."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            return None

    return QuietProgress()


def _last_step_callback() -> Any:
    from transformers import TrainerCallback

    class LastStep(TrainerCallback):
        """Evaluate (and checkpoint) the last step too, so it competes for the best."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if state.global_step >= state.max_steps:
                control.should_evaluate = True
                control.should_save = args.load_best_model_at_end or control.should_save
            return control

    return LastStep()


def train(job: TrainJob, trainer: Trainer) -> TrainResult:
    """Train `job.model` in place the way a run does: with the trainer's own train() if it has one, else with the
    runner and `trainer_arguments(job, trainer)`."""
    if type(trainer).train is not Trainer.train:
        return trainer.train(job)
    return run(job, trainer_arguments(job, trainer))


def trainer_arguments(job: TrainJob, trainer: Trainer) -> dict[str, Any]:
    """What the runner takes from `trainer` over the run's values: its params named like training arguments
    (weight_decay, max_grad_norm, ...), then its `arguments(job)`."""
    names = argument_names()
    params = {f.name: getattr(trainer.params, f.name) for f in dataclasses.fields(trainer.params) if f.name in names}
    return {**params, **trainer.arguments(job)}


def run(job: TrainJob, overrides: Mapping[str, Any] | None = None) -> TrainResult:
    """Train `job.model` in place with these training-argument `overrides`, continuing from `job.resume_from` when
    it is set (`hubembed.api.run_training`, for a trainer with a train() of its own)."""
    checkpoint = _resume_point(job)
    trainer = build_trainer(job, overrides)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    # accelerate wrapped the model's forward in autocast for bf16/fp16 training; take it off, so the evaluation
    # after training sees the model as it is saved (full precision)
    trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    metrics = output.metrics
    runtime = float(metrics.get("train_runtime", 0.0))
    best = trainer.state.best_model_checkpoint if trainer.args.load_best_model_at_end else None
    return TrainResult(
        train_loss=float(output.training_loss),
        runtime_s=runtime,
        samples=round(float(metrics.get("train_samples_per_second", 0.0)) * runtime),
        steps=int(output.global_step),
        log_history=list(trainer.state.log_history),
        kept_step=int(Path(best).name.rsplit("-", 1)[-1]) if best else None,
    )


def _resume_point(job: TrainJob) -> str | None:
    """`job.resume_from` as the trainer takes it, refused in one line when it cannot be resumed from (the
    pipeline hands over only whole checkpoints; a caller of the API may not)."""
    if job.resume_from is None:
        return None
    checkpoint = Path(job.resume_from)
    if not checkpoint.is_dir():
        raise ConfigError(f"cannot resume from {checkpoint}: no such checkpoint folder")
    damage = checkpoint_damage(checkpoint)
    if damage is not None:
        raise ConfigError(f"cannot resume from {checkpoint}: {damage}; resume from an earlier checkpoint")
    return str(checkpoint)
