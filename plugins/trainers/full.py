"""Full fine-tuning with sentence-transformers' SentenceTransformerTrainer (the HF Trainer underneath)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.types import Trainer, TrainJob, TrainResult


@dataclass(frozen=True)
class Params:
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "clip gradients to this norm"})


class FullTrainer(Trainer):
    summary = "Full fine-tune of every weight with SentenceTransformerTrainer"
    Params = Params

    def train(self, job: TrainJob) -> TrainResult:
        return run_st_trainer(job, self.params.weight_decay, self.params.max_grad_norm)


def build_st_trainer(job: TrainJob, weight_decay: float, max_grad_norm: float, lr: float | None = None) -> Any:
    """A SentenceTransformerTrainer for `job`: checkpoints every `training.save_steps` into <output_dir>/checkpoints
    (the last `save_total_limit` kept). Under `accelerate launch` it runs data-parallel by itself (torchrun's
    environment), so trainers stay unaware of the launcher."""
    import torch
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    from hubembed.batching import batch_sampler
    from hubembed.hardware import resolve_precision

    t = job.training
    precision = resolve_precision(t.precision)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(job.output_dir / "checkpoints"),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        learning_rate=t.lr if lr is None else lr,
        warmup_steps=t.warmup_ratio,  # a float < 1 is a ratio in transformers 5
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
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
        # Repeated texts in a batch would be false in-batch negatives.
        batch_sampler=batch_sampler(t.group_by_length, no_duplicates=job.loss.in_batch_negatives),
    )
    return SentenceTransformerTrainer(model=job.model, args=args, train_dataset=job.train_dataset, loss=job.loss.build)


def run_st_trainer(job: TrainJob, weight_decay: float, max_grad_norm: float, lr: float | None = None) -> TrainResult:
    """Train `job.model` in place with SentenceTransformerTrainer (continuing from `job.resume_from` when set);
    shared by trainers that only prepare the model."""
    trainer = build_st_trainer(job, weight_decay, max_grad_norm, lr)
    output = trainer.train(resume_from_checkpoint=str(job.resume_from) if job.resume_from else None)
    # accelerate wrapped the model's forward in autocast for bf16/fp16 training; take it off, so the evaluation
    # after training sees the model as it is saved (full precision)
    trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    metrics = output.metrics
    runtime = float(metrics.get("train_runtime", 0.0))
    return TrainResult(
        train_loss=float(output.training_loss),
        runtime_s=runtime,
        samples=round(float(metrics.get("train_samples_per_second", 0.0)) * runtime),
        steps=int(output.global_step),
        log_history=list(trainer.state.log_history),
    )
