"""The tsdae loss: CLS pooling, sentence-transformers' DenoisingAutoEncoderLoss with a tied decoder that loads
offline, and `--plugin tsdae` alone being a run that fits."""

from __future__ import annotations

import pytest

from hubembed import compat
from hubembed import config as cfgmod
from hubembed.errors import ConfigError
from hubembed_plugins.losses.tsdae import Params, TSDAELoss


def test_prepare_model_switches_to_cls_pooling(tiny_model):
    from sentence_transformers import SentenceTransformer

    model = TSDAELoss().prepare_model(SentenceTransformer(tiny_model, device="cpu"))
    assert model[1].pooling_mode == "cls"
    kept = TSDAELoss(Params(pooling="keep")).prepare_model(SentenceTransformer(tiny_model, device="cpu"))
    assert kept[1].pooling_mode == "mean"


def test_tied_decoder_shares_the_encoder_weights(tiny_model):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    model = SentenceTransformer(tiny_model, device="cpu")
    module = TSDAELoss().build(model)
    assert isinstance(module, DenoisingAutoEncoderLoss)
    enc = model.transformers_model.embeddings.word_embeddings.weight
    dec = module.decoder.bert.embeddings.word_embeddings.weight
    assert enc is dec


def test_a_model_whose_source_folder_is_gone_still_gets_a_decoder(tiny_model):
    """sentence-transformers reloads the decoder from config._name_or_path; a Hub id or a deleted folder there
    would need the network: the loss saves the transformer to a temporary folder instead."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_model, device="cpu")
    model.transformers_model.config._name_or_path = "/gone/tiny-bert"
    module = TSDAELoss().build(model)
    assert module.decoder.bert.embeddings.word_embeddings.weight is model.transformers_model.embeddings.word_embeddings.weight


def test_untied_needs_a_decoder_folder(tiny_model):
    from sentence_transformers import SentenceTransformer

    with pytest.raises(ConfigError, match="loss.decoder=PATH"):
        TSDAELoss(Params(tie_encoder_decoder=False)).build(SentenceTransformer(tiny_model, device="cpu"))


def test_plugin_tsdae_alone_is_a_full_run():
    run = cfgmod.resolve(cfgmod.with_defaults(cfgmod.RunConfig(loss=cfgmod.Step("tsdae"))))
    assert [s.info.name for s in run.data] == ["hubembed.denoise.v1"] and compat.check(run) == ["denoising"]
    assert [s.info.short for s in run.eval] == ["stsb", "in-domain"]  # held-out: each original retrieved from its damaged copy
