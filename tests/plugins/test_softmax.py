"""The softmax loss: SBERT's 3-way NLI classifier over (u, v, |u - v|), with its params."""

from __future__ import annotations

from hubembed_plugins.losses.softmax import Params, SoftmaxLoss


def test_classifier_size_follows_the_params(tiny_model):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_model, device="cpu")
    dim = model.get_embedding_dimension()
    plain = SoftmaxLoss().build(model)
    assert plain.num_labels == 3 and plain.classifier.in_features == 3 * dim
    wider = SoftmaxLoss(Params(num_labels=2, concatenation_sent_multiplication=True)).build(model)
    assert wider.classifier.out_features == 2 and wider.classifier.in_features == 4 * dim


def test_trains_on_labelled_pairs():
    assert SoftmaxLoss.expects == ("pair-class",) and SoftmaxLoss.citation.startswith("@inproceedings{reimers")
