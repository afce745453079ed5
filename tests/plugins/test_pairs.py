"""The pairs data builder: shape detection from columns, column mapping, score scaling."""

from __future__ import annotations

import pytest

from hubembed.errors import DataError
from hubembed.types import BuildContext
from hubembed_plugins.data.pairs import PairsBuilder, Params


def ctx(tmp_path, shape):
    return BuildContext(shape=shape, seed=0, model="", cache_dir=tmp_path, log=lambda m: None)


def test_detects_shapes_from_columns(tmp_path):
    (tmp_path / "t.csv").write_text("anchor,positive,negative\na,b,c\n")
    assert PairsBuilder(Params(path=str(tmp_path / "t.csv"))).produces == ("triplet", "pair")
    (tmp_path / "s.csv").write_text("sentence1,sentence2,score\na,b,4\n")
    assert PairsBuilder(Params(path=str(tmp_path / "s.csv"))).produces == ("pair-score",)


def test_column_mapping_and_score_scale(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"q": "what", "a": "that", "s": 5}\n{"q": "who", "a": "him", "s": 0}\n')
    builder = PairsBuilder(Params(path=str(path), columns={"sentence1": "q", "sentence2": "a", "score": "s"}, score_scale=5))
    ds = builder.build(ctx(tmp_path, "pair-score"), None)["train"]
    assert sorted(ds["score"]) == [0.0, 1.0]


def test_unscaled_scores_are_refused(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("sentence1,sentence2,score\na,b,4\n")
    with pytest.raises(DataError, match="score_scale=4"):
        PairsBuilder(Params(path=str(path))).build(ctx(tmp_path, "pair-score"), None)


def test_unfit_columns_and_missing_files(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(DataError, match="fit no shape"):
        PairsBuilder(Params(path=str(path)))
    with pytest.raises(DataError, match="does not exist"):
        PairsBuilder(Params(path=str(tmp_path / "nope.csv")))
    with pytest.raises(DataError, match="needs a file"):
        PairsBuilder(Params())
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataError, match="unknown format .xlsx"):
        PairsBuilder(Params(path=str(tmp_path / "x.xlsx")))
