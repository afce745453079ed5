"""The full trainer: every weight of the model trains, through SentenceTransformerTrainer."""

from __future__ import annotations

import pytest

from hubembed.batching import LengthGroupedBatchSampler
from hubembed.errors import PluginError
from hubembed.registry import registry
from hubembed.training import arguments, train, trainer_arguments
from hubembed.types import TrainingParams, TrainJob
from hubembed_plugins.trainers.full import FullTrainer, Params


def test_every_transformer_weight_changes(tiny_model, hubembed_tiny_dataset, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer

    trainer = FullTrainer(Params(weight_decay=0.0))
    model = trainer.prepare_model(SentenceTransformer(tiny_model, device="cpu"))
    assert all(p.requires_grad for p in model.parameters())  # nothing frozen, no adapter
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    training = TrainingParams(max_steps=2, batch_size=8, lr=1e-3, warmup_ratio=0.0, precision="fp32", logging_steps=1)
    job = TrainJob(model=model, loss=registry().create("loss", "mnr"), train_dataset=hubembed_tiny_dataset("triplet", n=16),
                   training=training, output_dir=tmp_path, log=lambda m: None)
    result = train(job, trainer)
    assert result.steps == 2 and [e["loss"] for e in result.log_history if "loss" in e]
    unchanged = [n for n, p in model.named_parameters() if torch.equal(before[n], p) and "pooler" not in n]
    assert unchanged == []


def test_the_runner_takes_the_run_then_the_trainer_arguments(tmp_path):
    """The full trainer adds only its params; the run gives the rest, as hubembed always trained."""
    training = TrainingParams(epochs=2, batch_size=16, lr=3e-5, warmup_ratio=0.2, seed=7, save_steps=0, precision="fp32")
    job = TrainJob(model=None, loss=registry().create("loss", "mnr"), train_dataset=None, training=training, output_dir=tmp_path)
    assert trainer_arguments(job, FullTrainer()) == {"weight_decay": 0.01, "max_grad_norm": 1.0}
    args = arguments(job, trainer_arguments(job, FullTrainer()))
    assert (args.output_dir, args.num_train_epochs, args.max_steps, args.per_device_train_batch_size, args.learning_rate,
            args.warmup_steps, args.seed) == (str(tmp_path / "checkpoints"), 2, -1, 16, 3e-5, 0.2, 7)
    assert (args.weight_decay, args.max_grad_norm, args.save_strategy, args.bf16, args.fp16) == (0.01, 1.0, "no", False, False)
    assert args.batch_sampler.func is LengthGroupedBatchSampler and args.batch_sampler.keywords == {"no_duplicates": True}
    assert arguments(job, {"learning_rate": 1e-3}).learning_rate == 1e-3  # a trainer's own value wins
    with pytest.raises(PluginError, match="names weight_decy, which SentenceTransformerTrainingArguments does not take "
                                          "\\(did you mean weight_decay\\?\\)"):
        arguments(job, {"weight_decy": 0.1})
    with pytest.raises(PluginError, match="the trainer sets save_steps, seed, which the runner takes from the run"):
        arguments(job, {"seed": 1, "save_steps": 5})  # checkpoints and --resume depend on the run's own values
