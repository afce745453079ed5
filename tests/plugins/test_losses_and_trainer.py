"""Every built-in loss trains the tiny model for a few steps through the full trainer, on the data its default
chain gives it."""

from __future__ import annotations

import pytest

from hubembed import compat
from hubembed import config as cfgmod
from hubembed.pipeline import build_data
from hubembed.training import train
from hubembed.types import TrainJob, TrainingParams


@pytest.mark.parametrize("loss", ["mnr", "cosine", "softmax"])
def test_loss_trains_the_tiny_model(loss, tiny_model, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer

    cfg = cfgmod.apply_overrides(cfgmod.with_defaults(cfgmod.RunConfig(loss=cfgmod.Step(loss))), ["data.limit=32"])
    run = cfgmod.resolve(cfg)
    train_ds, report, held = build_data(run, compat.check(run), tiny_model, log=lambda m: None)
    assert len(train_ds) + len(held.rows) == 32 and report[0].examples == len(train_ds) and report[0].fingerprint
    model = SentenceTransformer(tiny_model)
    before = [p.detach().clone() for p in model.parameters()]
    training = TrainingParams(max_steps=2, batch_size=8, lr=1e-3, precision="fp32", logging_steps=1)
    job = TrainJob(model=model, loss=run.loss.plugin, train_dataset=train_ds, training=training, output_dir=tmp_path)
    result = train(job, run.trainer.plugin)
    assert result.steps == 2 and result.train_loss > 0
    assert any(e.get("loss") is not None for e in result.log_history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_softmax_loss_classifies_three_labels(tiny_model):
    from sentence_transformers import SentenceTransformer

    from hubembed_plugins.losses.softmax import SoftmaxLoss

    module = SoftmaxLoss().build(SentenceTransformer(tiny_model))
    assert module.num_labels == 3 and module.classifier.out_features == 3
