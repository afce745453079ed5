"""The cached_mnr loss: sentence-transformers' CachedMultipleNegativesRankingLoss (GradCache). It embeds a batch in
mini-batches, yet its loss and gradients are MNR's on the whole batch; `--mini-batch-size N` turns an mnr run into it."""

from __future__ import annotations

import json

import pytest
import yaml

from hubembed_plugins.losses.cached_mnr import CachedMNRLoss, Params
from hubembed_plugins.losses.mnr import MNRLoss


def test_same_loss_and_gradients_as_mnr_on_the_whole_batch(tiny_model, hubembed_tiny_dataset):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    rows = hubembed_tiny_dataset("triplet", n=12)

    def loss_and_grads(plugin):
        torch.manual_seed(0)
        model = SentenceTransformer(tiny_model, device="cpu")
        model.eval()  # no dropout, so the replayed mini-batches compute what the first pass did
        module = plugin.build(model)
        features = [model.preprocess(rows[c]) for c in ("anchor", "positive", "negative")]
        loss = module(features, None)
        loss.backward()
        return module, float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    cached, cached_loss, cached_grads = loss_and_grads(CachedMNRLoss(Params(mini_batch_size=5)))
    assert isinstance(cached, CachedMultipleNegativesRankingLoss) and cached.mini_batch_size == 5
    assert cached.gather_across_devices is False  # a single process has nothing to gather
    _, loss, grads = loss_and_grads(MNRLoss())
    assert cached_loss == pytest.approx(loss, rel=1e-5)
    assert set(cached_grads) == set(grads)
    scale = max(float(g.abs().max()) for g in grads.values())  # float noise is relative to the gradients' size
    for name, grad in grads.items():
        diff = float((cached_grads[name] - grad).abs().max())
        assert diff <= 1e-4 * float(grad.abs().max()) + 2e-5 * scale, f"{name}: differs by {diff:.2e}"


def test_negatives_per_anchor_grow_with_the_gathered_batch():
    # triplets (3 columns): every positive and hard negative of the batch but the anchor's own positive
    assert CachedMNRLoss().negatives_per_anchor(32, 1, 3) == 63
    assert CachedMNRLoss().negatives_per_anchor(32, 4, 3) == 255
    assert CachedMNRLoss(Params(gather_across_devices=False)).negatives_per_anchor(32, 4, 3) == 63
    assert MNRLoss().negatives_per_anchor(16, 2, 2) == 31
    assert CachedMNRLoss.in_batch_negatives and CachedMNRLoss.expects == MNRLoss.expects


def test_mini_batch_size_must_be_positive():
    from hubembed.config import make_params
    from hubembed.errors import ConfigError

    with pytest.raises(ConfigError, match="mini_batch_size must be at least 1"):
        make_params(Params, {"mini_batch_size": 0}, "loss")


def test_mini_batch_size_flag_switches_mnr_to_the_cached_loss(run_cli, tiny_model, tmp_path):
    out = tmp_path / "cached"
    result = run_cli("train", "--plugin", "mnr", "--set", "loss.scale=30", "--model", tiny_model, "--batch-size", "32",
                     "--mini-batch-size", "8", "--set", "data.limit=64", "--max-steps", "2", "--eval", "none",
                     "--output", str(out), env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    loss = yaml.safe_load((out / "hubembed_run.yaml").read_text())["loss"]
    assert loss["name"] == "hubembed.cached-mnr.v1"
    assert loss["params"] == {"scale": 30.0, "mini_batch_size": 8, "gather_across_devices": True}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["negatives_per_anchor"] == 63 and metrics["train"]["global_batch_size"] == 32

    wrong = run_cli("train", "--plugin", "cosine", "--mini-batch-size", "8", "--output", str(tmp_path / "no"))
    assert wrong.returncode == 2 and "--mini-batch-size applies to losses with a cached form (cached-mnr, mnr), not cosine" in wrong.stderr


def test_the_old_spelling_still_resolves():
    """Run files written before plugin names were spelled with hyphens keep loading."""
    from hubembed.registry import registry

    for old in ("cached_mnr", "hubembed.cached_mnr", "hubembed.cached_mnr.v1"):
        assert registry().resolve("loss", old).name == "hubembed.cached-mnr.v1"
