"""The stsb evaluator: Pearson and Spearman of cosine, validation and test, on the bundled STSB offline."""

from __future__ import annotations

import pytest

from hubembed.types import EvalContext
from hubembed_plugins.evaluators.stsb import Params, STSBEvaluator


def test_scores_for_each_split_and_metric(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    said = []
    evaluator = STSBEvaluator()
    scores = evaluator.evaluate(SentenceTransformer(tiny_model), EvalContext(seed=0, cache_dir=tmp_path, log=said.append))
    assert {(s.split, s.metric) for s in scores} == {(sp, m) for sp in ("validation", "test") for m in ("pearson_cosine", "spearman_cosine")}
    assert all(-1 <= s.value <= 1 for s in scores)
    assert [s.main for s in scores].count(True) == 2
    assert scores[0].dataset == "PhilipMay/stsb-multi-mt" and any("bundled STS Benchmark" in m for m in said)


@pytest.mark.slow
def test_minilm_matches_the_published_numbers(minilm, tmp_path):
    from sentence_transformers import SentenceTransformer

    # the test split only: its published number is MTEB's; validation (0.8672) is checked in test_e2e_minilm
    scores = STSBEvaluator(Params(splits=("test",))).evaluate(SentenceTransformer(minilm), EvalContext(seed=0, cache_dir=tmp_path))
    main = {s.split: round(s.value, 4) for s in scores if s.main}
    assert main == {"test": 0.8203}
