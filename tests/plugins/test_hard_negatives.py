"""The hard-negative miner on real NLI pairs with the tiny model: what it picks, its filters, its cache, its errors,
and that it picks what sentence-transformers' util.mine_hard_negatives picks on the same input and settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubembed.errors import ConfigError, DataError
from hubembed.testing import tiny_dataset_dict
from hubembed.types import BuildContext
from hubembed_plugins.data.hard_negatives import HardNegativesMiner, Params


def mine(tiny_model, tmp_path: Path, shape="n-tuple", upstream="pair", n=48, log=lambda m: None, **params):
    ctx = BuildContext(shape=shape, seed=0, model=tiny_model, cache_dir=tmp_path / "cache", log=log)
    values = {"range_min": 0, "range_max": 10, "relative_margin": None, "precision": "fp32", **params}
    result = HardNegativesMiner(Params(**values)).build(ctx, tiny_dataset_dict(upstream, n=n))
    return result["train"], ctx.stats


def test_pairs_become_n_tuples_whose_negatives_are_never_the_positive(tiny_model, tmp_path):
    ds, stats = mine(tiny_model, tmp_path, num_negatives=3)
    assert ds.column_names == ["anchor", "positive", "negative_1", "negative_2", "negative_3"]
    assert len(ds) == 48 and stats["anchors_with_negatives"] == 48
    positives = set(ds["positive"])
    for row in ds:
        negs = [row["negative_1"], row["negative_2"], row["negative_3"]]
        assert row["positive"] not in negs and row["anchor"] not in negs
        assert len(set(negs)) == 3 and set(negs) <= positives  # pool: the other anchors' positives
    assert -1 <= stats["mean_negative_similarity"] <= 1 and stats["candidates"] == 48


def test_triplets_keep_their_negative_first(tiny_model, tmp_path):
    upstream = tiny_dataset_dict("triplet", n=32)["train"]
    ds, _ = mine(tiny_model, tmp_path, upstream="triplet", n=32, num_negatives=2)
    assert ds.column_names == ["anchor", "positive", "negative_1", "negative_2", "negative_3"]
    assert ds["negative_1"] == upstream["negative"]
    assert all(r["negative_1"] not in (r["negative_2"], r["negative_3"]) for r in ds)


def test_triplet_output_has_one_row_per_negative(tiny_model, tmp_path):
    ds, _ = mine(tiny_model, tmp_path, shape="triplet", num_negatives=2)
    assert ds.column_names == ["anchor", "positive", "negative"] and len(ds) == 96


def test_rank_window_and_sampling(tiny_model, tmp_path):
    """The first candidates skipped by range_min are exactly the ones range_min=0 would pick; random picks from the
    window, seeded."""
    top, _ = mine(tiny_model, tmp_path, num_negatives=2)
    skipped, _ = mine(tiny_model, tmp_path, num_negatives=2, range_min=2, range_max=12)
    assert top["anchor"] == skipped["anchor"]
    for t, s in zip(top, skipped):  # ranks 0-1 vs ranks 2-3 of the same anchor
        assert not {t["negative_1"], t["negative_2"]} & {s["negative_1"], s["negative_2"]}
    rand1, _ = mine(tiny_model, tmp_path, num_negatives=2, sampling="random")
    rand2, _ = mine(tiny_model, tmp_path, num_negatives=2, sampling="random")
    assert rand1["negative_1"] == rand2["negative_1"] and rand1["negative_1"] != top["negative_1"]


def test_margins_drop_candidates_and_say_so(tiny_model, tmp_path):
    loose, _ = mine(tiny_model, tmp_path, num_negatives=1)
    strict, stats = mine(tiny_model, tmp_path, num_negatives=1, absolute_margin=0.05, range_max=40)
    assert stats["skipped_candidates"].get("absolute_margin", 0) > 0
    assert stats["mean_negative_similarity"] < stats["mean_positive_similarity"]
    assert len(strict) <= len(loose)


def test_embeddings_come_from_the_cache_the_second_time(tiny_model, tmp_path):
    _, first = mine(tiny_model, tmp_path)
    _, second = mine(tiny_model, tmp_path)
    assert first["embeddings_cached"] is False and second["embeddings_cached"] is True
    assert list((tmp_path / "cache" / "embeddings").glob("*.npy"))
    _, other = mine(tiny_model, tmp_path, n=40)  # other data: other key
    assert other["embeddings_cached"] is False


def test_a_damaged_cache_file_is_said_and_embedded_again(tiny_model, tmp_path):
    first, _ = mine(tiny_model, tmp_path)
    (cached,) = (tmp_path / "cache" / "embeddings").glob("*.npy")
    cached.write_bytes(b"not an array")
    said: list[str] = []
    again, stats = mine(tiny_model, tmp_path, log=said.append)
    assert any("is unreadable" in m and "embedding again" in m for m in said), said
    assert stats["embeddings_cached"] is False and again["negative_1"] == first["negative_1"]


def test_a_corpus_file_adds_candidates(tiny_model, tmp_path):
    corpus = tmp_path / "extra.txt"
    corpus.write_text("A completely different sentence about trains.\nSomeone is cooking pasta in a kitchen.\n")
    _, stats = mine(tiny_model, tmp_path, corpus=str(corpus))
    assert stats["candidates"] == 50


def test_cross_encoder_filter_drops_candidates(tiny_model, tmp_path):
    """A cross-encoder (here the tiny BERT with a fresh head, scores ~0.5) rejects every candidate scored above
    ce_max_score; with ce_max_score=0 nothing is left: one clear error."""
    from sentence_transformers.cross_encoder import CrossEncoder

    ce_dir = tmp_path / "ce"
    CrossEncoder(tiny_model, num_labels=1).save(str(ce_dir))
    with pytest.raises(DataError, match="no anchor kept"):
        mine(tiny_model, tmp_path, cross_encoder=str(ce_dir), ce_max_score=0.0)
    ds, stats = mine(tiny_model, tmp_path, cross_encoder=str(ce_dir), ce_max_score=1.0)
    assert 0 < len(ds) <= 48 and stats["skipped_candidates"]["cross_encoder"] > 0  # those it likes >= the positive


def test_nothing_left_after_filtering_is_one_clear_error(tiny_model, tmp_path):
    with pytest.raises(DataError, match="no anchor kept 1 negative.*widen range_max"):
        mine(tiny_model, tmp_path, max_score=-1.0)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"num_negatives": 0}, "at least 1"),
        ({"range_min": 5, "range_max": 5}, "range_min < range_max"),
        ({"range_min": 0, "range_max": 2, "num_negatives": 3}, "widen the window"),
    ],
)
def test_bad_params_fail_before_anything_loads(params, message):
    with pytest.raises(ConfigError, match=message):
        HardNegativesMiner(Params(**params))


@pytest.mark.parametrize("margin", [{}, {"absolute_margin": 0.0}], ids=["window", "window+margin"])
def test_same_choices_as_sentence_transformers_mine_hard_negatives(margin, tiny_model, tmp_path):
    """Same input, same settings, fp32: hubembed's miner picks (nearly always) the negative ST's picks; only ties in
    floating point can differ."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    pairs = tiny_dataset_dict("pair", n=64)["train"]
    ours, _ = mine(tiny_model, tmp_path, n=64, num_negatives=1, range_min=3, range_max=15, **margin)
    theirs = mine_hard_negatives(
        pairs, SentenceTransformer(tiny_model, device="cpu"), num_negatives=1, range_min=3, range_max=15, **margin,
        sampling_strategy="top", output_format="n-tuple", verbose=False, batch_size=128,
    )
    mine_of = dict(zip(ours["anchor"], ours["negative_1"]))
    st_of = dict(zip(theirs["anchor"], theirs["negative_1"]))
    common = set(mine_of) & set(st_of)
    assert len(common) >= 0.9 * max(len(mine_of), len(st_of))
    agree = sum(mine_of[a] == st_of[a] for a in common)
    assert agree >= 0.95 * len(common)
