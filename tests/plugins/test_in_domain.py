"""The in-domain evaluator: each shape's held-out rows scored on the tiny model; the retrieval task it builds."""

from __future__ import annotations

import pytest
from datasets import Dataset

from hubembed import heldout
from hubembed.testing import tiny_rows
from hubembed.types import EvalContext
from hubembed_plugins.evaluators.in_domain import InDomainEvaluator, Params

IR = {"ndcg_at_10", "mrr_at_10", "recall_at_1", "recall_at_10"}


def rows(shape: str, n: int = 120) -> Dataset:
    return Dataset.from_dict(tiny_rows(shape, n=n))


def held_out(shape: str, ds: Dataset, **params) -> heldout.HeldOut:
    held = InDomainEvaluator(Params(**params)).hold_out(ds, shape)
    return held if held is None else heldout.HeldOut(held.shape, held.rows, held.train, "my-pairs.csv", held.origin,
                                                     heldout.fingerprint(held.rows))


@pytest.fixture(scope="module")
def model(tiny_model):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(tiny_model, device="cpu")


@pytest.mark.parametrize("shape, metrics", [
    ("triplet", IR | {"cosine_accuracy"}), ("pair", IR), ("n-tuple", IR | {"cosine_accuracy"}), ("pair-class", IR),
    ("denoising", IR), ("pair-score", {"spearman_cosine"}),
])
def test_each_shape_gets_its_scores(model, tmp_path, shape, metrics):
    held = held_out(shape, rows(shape, 160), share=0.2)
    scores = InDomainEvaluator().evaluate(model, EvalContext(seed=0, cache_dir=tmp_path, held_out=held))
    assert {s.metric for s in scores} == metrics
    assert all(0 <= s.value <= 1 or s.metric == "spearman_cosine" for s in scores)
    lead = InDomainEvaluator().headline(scores)
    assert lead.metric == ("spearman_cosine" if shape == "pair-score" else "ndcg_at_10")
    # the card's model-index names the user's data, split held-out, revision = the rows' fingerprint
    assert {(s.dataset, s.split, s.revision) for s in scores} == {("my-pairs.csv", "held-out", held.fingerprint)}


def test_sentences_have_nothing_to_score_and_are_not_cut():
    assert InDomainEvaluator().hold_out(rows("sentences"), "sentences") is None
    assert InDomainEvaluator(Params(share=0)).hold_out(rows("triplet"), "triplet") is None


def test_the_corpus_holds_the_held_out_documents_and_bounded_training_distractors():
    held = held_out("triplet", rows("triplet", 160), share=0.1)
    task = InDomainEvaluator.retrieval(held, rows=len(held.rows), distractors=25)
    documents = set(held.rows["positive"]) | set(held.rows["negative"])
    assert documents <= set(task.corpus.values())
    extra = set(task.corpus.values()) - documents
    assert len(extra) == 25 and extra <= set(held.train["positive"]) | set(held.train["negative"])
    assert set(task.queries.values()) == set(held.rows["anchor"])  # queries are held-out anchors only
    assert InDomainEvaluator.retrieval(held, len(held.rows), 25) == task  # the same task every time


def test_given_rows_are_used_instead_of_a_cut_and_bounded():
    ds, given = rows("triplet", 100), rows("triplet", 150)
    held = InDomainEvaluator(Params(max_rows=50)).hold_out(ds, "triplet", given)
    assert len(held.train) == len(ds) and len(held.rows) <= 50 and set(held.rows["anchor"]) <= set(given["anchor"])


def test_the_training_evaluator_is_sized_by_its_text_budget(model, tmp_path):
    held = held_out("triplet", rows("triplet", 200), share=0.3)
    evaluator, key = InDomainEvaluator().training_evaluator(EvalContext(seed=0, cache_dir=tmp_path, held_out=held), texts=200)
    assert key == "held-out_cosine_ndcg@10" and len(evaluator.queries) <= 50
    assert key in evaluator(model)
