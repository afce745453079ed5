"""The full trainer: every weight of the model trains, through SentenceTransformerTrainer."""

from __future__ import annotations

from hubembed.registry import registry
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
    result = trainer.train(job)
    assert result.steps == 2 and [e["loss"] for e in result.log_history if "loss" in e]
    unchanged = [n for n, p in model.named_parameters() if torch.equal(before[n], p) and "pooler" not in n]
    assert unchanged == []
