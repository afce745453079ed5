"""The pairs data builder: shape detection from columns, column mapping, score scaling."""

from __future__ import annotations

import pytest

from hubembed.errors import DataError
from hubembed.types import BuildContext
from hubembed_plugins.data.denoise import DenoiseBuilder
from hubembed_plugins.data.nli import NLIBuilder
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


def _paths(root):
    """One of each kind of `--data PATH`, and the builder it went to before builders said which files they read."""
    import gzip

    (root / "s.txt").write_text("One sentence.\n")
    with gzip.open(root / "s.txt.gz", "wt") as f:
        f.write("One sentence.\n")
    (root / "nli.csv").write_text("sentence1,sentence2,label\na,b,entailment\n")
    (root / "gold.jsonl").write_text('{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n')
    (root / "pairs.tsv").write_text("anchor\tpositive\na\tb\n")
    (root / "sheet.xlsx").write_text("")  # no reader: pairs, whose reader then names the format
    for folder, name, text in (("nli-dir", "x.csv", "premise,hypothesis,label\na,b,0\n"),
                               ("pairs-dir.txt", "x.csv", "anchor,positive\na,b\n")):
        (root / folder).mkdir()
        (root / folder / name).write_text(text)
    return {
        "s.txt": "denoise", "s.txt.gz": "denoise", "nli.csv": "nli", "gold.jsonl": "nli", "pairs.tsv": "pairs",
        "sheet.xlsx": "pairs", "nli-dir": "nli", "pairs-dir.txt": "pairs", "missing.csv": None,
    }


def test_each_source_builder_claims_the_files_it_was_given_before(tmp_path):
    builders = {"denoise": DenoiseBuilder, "nli": NLIBuilder, "pairs": PairsBuilder}
    for name, before in _paths(tmp_path).items():
        path = tmp_path / name
        claims = {b: cls.reads_file(path) for b, cls in builders.items()}
        if before is None:
            assert claims == {"denoise": None, "nli": None, "pairs": None}, name
            continue
        surest = max((c[0], b) for b, c in claims.items() if c)
        assert surest[1] == before, (name, claims)
        assert claims[before] == (surest[0], {"path" if before == "pairs" else "source": str(path)})
        assert claims["pairs"] == (1, {"path": str(path)})  # every path that exists may be pairs, as before
        assert sorted(c[0] for c in claims.values() if c).count(surest[0]) == 1, (name, claims)  # no tie


def test_a_path_no_reader_reads_fails_where_it_did(tmp_path):
    (tmp_path / "sheet.xlsx").write_text("")
    step = PairsBuilder.reads_file(tmp_path / "sheet.xlsx")
    with pytest.raises(DataError, match="unknown format .xlsx"):
        PairsBuilder(Params(**step[1]))
