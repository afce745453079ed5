"""Tests of the Matryoshka loss plugin: hubembed's contract checks, then what the plugin itself promises."""

from __future__ import annotations

import pytest

from hubembed.errors import ConfigError
from hubembed.testing import check_registered
from hubembed_matryoshka.loss import MatryoshkaMNRLoss


def test_contract(hubembed_check):
    """Shapes, params, run-config round trip, and 2 training steps on pairs and on triplets of the tiny model."""
    report = hubembed_check(MatryoshkaMNRLoss)
    assert set(report.details["train_loss"]) == {"triplet", "pair"}


def test_contract_with_explicit_sizes(hubembed_check):
    hubembed_check(MatryoshkaMNRLoss, params={"dims": [32, 8], "weights": [1.0, 0.5]})


def test_registered_under_its_pinned_name():
    info = check_registered("loss", "examples.matryoshka.v1", MatryoshkaMNRLoss)
    assert info.distribution == "hubembed-matryoshka"


def test_default_sizes_halve_down_to_an_eighth(hubembed_tiny_model):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    model = SentenceTransformer(hubembed_tiny_model, device="cpu")  # 32 dimensions
    module = MatryoshkaMNRLoss().build(model)
    assert isinstance(module, MatryoshkaLoss)
    assert list(module.matryoshka_dims) == [32, 16, 8, 4]


def test_bad_sizes_are_one_clear_line(hubembed_tiny_model):
    from sentence_transformers import SentenceTransformer

    with pytest.raises(ConfigError, match="positive"):
        MatryoshkaMNRLoss(MatryoshkaMNRLoss.Params(dims=(64, 0)))
    with pytest.raises(ConfigError, match="one weight per size"):
        MatryoshkaMNRLoss(MatryoshkaMNRLoss.Params(dims=(16, 8), weights=(1.0,)))
    with pytest.raises(ConfigError, match="exceed the model's embedding size 32"):
        MatryoshkaMNRLoss(MatryoshkaMNRLoss.Params(dims=(64, 16))).build(SentenceTransformer(hubembed_tiny_model, device="cpu"))
