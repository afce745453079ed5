"""Augmented SBERT on the tiny model: a real CrossEncoder trained with CrossEncoderTrainer on STSB gold pairs,
neighbour pairs from real NLI sentences, silver labels; every stage cached; bad gold is one clear error."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hubembed.errors import DataError
from hubembed.types import BuildContext
from hubembed_plugins.data.augsbert import AugSBERTBuilder, Params

SMALL = {"gold_limit": 40, "unlabeled_limit": 30, "top_k": 2, "ce_max_steps": 2, "ce_batch_size": 8, "precision": "fp32"}


def build(tiny_model, tmp_path: Path, **params):
    ctx = BuildContext(shape="pair-score", seed=0, model=tiny_model, cache_dir=tmp_path / "cache", log=lambda m: None)
    result = AugSBERTBuilder(Params(**{**SMALL, **params})).build(ctx, None)
    return result["train"], ctx.stats


def test_gold_plus_silver_with_every_stage_cached(tiny_model, tmp_path):
    ds, stats = build(tiny_model, tmp_path)
    assert ds.column_names == ["sentence1", "sentence2", "score"]
    assert stats["gold"] == 40 and stats["unlabeled"] == 30 and 0 < stats["silver"] <= 30 * 2
    assert len(ds) == stats["gold"] + stats["silver"] == stats["examples"]
    assert all(0.0 <= s <= 1.0 for s in ds["score"])
    assert stats["cross_encoder"]["steps"] == 2 and stats["cross_encoder"]["cached"] is False
    assert stats["pairs_cached"] is False and stats["silver_cached"] is False
    assert sum(stats["silver_scores"]["histogram_0-1_by_0.2"]) == stats["silver"]
    assert stats["hub_id"] == "PhilipMay/stsb-multi-mt"

    again, stats2 = build(tiny_model, tmp_path)
    assert stats2["cross_encoder"]["cached"] and stats2["pairs_cached"] and stats2["silver_cached"]
    assert again["score"] == ds["score"]  # same seed, same rows
    folders = list((tmp_path / "cache" / "augsbert").glob("cross-encoder-*"))
    assert len(folders) == 1 and (folders[0] / "model.safetensors").exists()


def test_silver_pairs_are_neighbours_not_gold(tiny_model, tmp_path):
    gold_only, g = build(tiny_model, tmp_path, mode="gold")
    silver_only, s = build(tiny_model, tmp_path, mode="silver")
    assert len(gold_only) == 40 and "silver" not in g
    assert len(silver_only) == s["silver"]
    gold_pairs = set(zip(gold_only["sentence1"], gold_only["sentence2"]))
    assert not gold_pairs & set(zip(silver_only["sentence1"], silver_only["sentence2"]))
    assert all(a != b for a, b in zip(silver_only["sentence1"], silver_only["sentence2"]))


def test_a_given_cross_encoder_and_sentence_file(tiny_model, tmp_path):
    from sentence_transformers.cross_encoder import CrossEncoder

    ce = tmp_path / "ce"
    CrossEncoder(tiny_model, num_labels=1).save(str(ce))
    sentences = tmp_path / "domain.txt"
    sentences.write_text("\n".join(f"The turbine number {i} needs a new bearing." for i in range(12)) + "\n")
    ds, stats = build(tiny_model, tmp_path, cross_encoder=str(ce), unlabeled=str(sentences), unlabeled_limit=None)
    assert stats["cross_encoder"] == {"given": str(ce)} and stats["unlabeled"] == 12
    assert stats["unlabeled_source"] == str(sentences) and len(ds) == 40 + stats["silver"]


def test_a_gold_file_with_its_scale(tiny_model, tmp_path):
    gold = tmp_path / "gold.csv"
    with gold.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sentence1", "sentence2", "score"])
        w.writerows([(f"A dog runs number {i}.", f"A dog is running {i}.", i % 6) for i in range(40)])
    with pytest.raises(DataError, match="gold_score_scale=5"):
        build(tiny_model, tmp_path, gold=str(gold), mode="gold")
    ds, stats = build(tiny_model, tmp_path, gold=str(gold), gold_score_scale=5.0, mode="gold")
    assert max(ds["score"]) == 1.0 and stats["gold_source"] == str(gold)


def test_too_small_a_gold_set_is_one_clear_error(tiny_model, tmp_path):
    with pytest.raises(DataError, match="gold set has 10 scored pairs, too few.*at least 32"):
        build(tiny_model, tmp_path, gold_limit=10)
    assert not (tmp_path / "cache" / "augsbert").exists()  # nothing trained, nothing half-written
