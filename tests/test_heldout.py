"""The held-out split: deterministic, grouped by anchor (no anchor on both sides), bounded, refused when too small."""

from __future__ import annotations

import pytest
from datasets import Dataset

from hubembed import heldout
from hubembed.errors import DataError
from hubembed.testing import tiny_rows


def triplets(n: int) -> Dataset:
    columns = tiny_rows("triplet", n=n)
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return Dataset.from_list([r for r in rows for _ in (0, 1)])  # two rows per anchor, as NLI premises have


def test_no_anchor_is_on_both_sides_and_the_split_is_the_same_every_time():
    ds = triplets(200)
    first, again = heldout.split(ds, "triplet"), heldout.split(ds.shuffle(seed=3), "triplet")
    assert set(first.held_out["anchor"]) == set(again.held_out["anchor"])  # row order does not matter
    assert not set(first.held_out["anchor"]) & set(first.train["anchor"])
    assert len(first.train) + len(first.held_out) == len(ds) and first.groups == len(set(first.held_out["anchor"]))
    assert first.groups == max(heldout.MIN_GROUPS, round(0.05 * len(set(ds["anchor"]))))


def test_the_held_out_rows_are_bounded():
    split = heldout.split(triplets(200), "triplet", share=0.5, max_rows=20)
    assert len(split.held_out) <= 20 and split.groups >= 1


def test_too_few_anchors_is_one_line():
    with pytest.raises(DataError, match="too few to hold out 8 for the in-domain evaluation; give held-out rows with --eval-data"):
        heldout.split(triplets(10), "triplet")


def test_the_in_domain_evaluator_scores_held_out_triplets_and_pairs(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from hubembed.types import EvalContext
    from hubembed_plugins.evaluators.in_domain import InDomainEvaluator

    model = SentenceTransformer(tiny_model, device="cpu")
    held = heldout.split(triplets(200), "triplet").held_out
    scores = InDomainEvaluator().evaluate(model, EvalContext(seed=0, cache_dir=tmp_path, held_out=("triplet", held)))
    by_metric = {s.metric: s.value for s in scores}
    assert set(by_metric) == {"ndcg_at_10", "mrr_at_10", "recall_at_1", "recall_at_10", "cosine_accuracy"}
    assert all(0 <= v <= 1 for v in by_metric.values())
    assert InDomainEvaluator().headline(scores).metric == "ndcg_at_10"
    pairs = held.remove_columns(["negative"])
    assert {s.metric for s in InDomainEvaluator().evaluate(model, EvalContext(seed=0, cache_dir=tmp_path, held_out=("pair", pairs)))} == {
        "ndcg_at_10", "mrr_at_10", "recall_at_1", "recall_at_10"}


IN_DOMAIN = """
from hubembed_plugins.evaluators.in_domain import InDomainEvaluator


class InDomain(InDomainEvaluator):
    name = "local.in-domain.v1"
"""


def test_a_run_holds_out_rows_at_the_source_and_scores_them_before_and_after(run_cli, tiny_model, tmp_path):
    import json

    (tmp_path / "in_domain.py").write_text(IN_DOMAIN)
    out = tmp_path / "out"
    result = run_cli("train", "--code", str(tmp_path / "in_domain.py"), "--plugin", "mnr", "--model", tiny_model,
                     "--set", "data.limit=400", "--batch-size", "16", "--max-steps", "2", "--precision", "fp32",
                     "--eval", "local.in-domain", "--output", str(out), env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert "held out " in result.stderr and "(never trained on)" in result.stderr
    record = json.loads((out / "metrics.json").read_text())
    assert record["scores"]["headline"] == "in-domain retrieval/held-out/ndcg_at_10"
    assert {s["metric"] for s in record["scores"]["base"]} >= {"ndcg_at_10", "cosine_accuracy"}
    held = int(result.stderr.split("held out ")[1].split(" ")[0])
    assert record["data"][0]["examples"] == 400 - held  # the held-out rows never reached training
