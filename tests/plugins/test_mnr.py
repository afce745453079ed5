"""The mnr loss: sentence-transformers' MultipleNegativesRankingLoss with its params, and what it asks of batches.
(Training on every shape it expects runs in tests/test_builtin_meta.py through the contract checks.)"""

from __future__ import annotations

from hubembed_plugins.losses.mnr import MNRLoss, Params


def test_builds_the_sentence_transformers_loss_with_its_params(tiny_model):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    module = MNRLoss(Params(scale=30.0)).build(SentenceTransformer(tiny_model, device="cpu"))
    assert isinstance(module, MultipleNegativesRankingLoss) and module.scale == 30.0
    assert module.gather_across_devices is False  # a single process has nothing to gather


def test_batches_must_not_repeat_a_text():
    assert MNRLoss.in_batch_negatives is True  # trainers pick a no-duplicates batch sampler for it
    assert {"triplet", "pair"} <= set(MNRLoss.expects) and MNRLoss.default_data == ("nli",)


def test_a_hard_negative_makes_the_task_harder(tiny_model, hubembed_tiny_dataset):
    """With triplets the anchor must also beat its contradiction: the loss is higher than on pairs alone."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_model, device="cpu")
    module = MNRLoss().build(model)
    rows = hubembed_tiny_dataset("triplet", n=8)
    features = [model.preprocess(rows[c]) for c in ("anchor", "positive", "negative")]
    with torch.no_grad():
        pairs, triplets = module(features[:2], None), module(features, None)
    assert torch.isfinite(triplets) and triplets > pairs
