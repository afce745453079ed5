"""The nli data builder: label spellings, unlabelled rows, and the rule that only entailment is a positive."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubembed.errors import DataError
from hubembed.types import BuildContext
from hubembed_plugins.data.nli import NLIBuilder, Params

ROWS = """pairID,sentence1,sentence2,label
1,A man plays a guitar.,A man plays music.,entailment
2,A man plays a guitar.,A man is sleeping.,contradiction
3,A man plays a guitar.,The man is famous.,neutral
4,Two dogs run.,Animals are moving.,entailment
5,Two dogs run.,The dogs are big.,neutral
6,Kids eat lunch.,Nobody eats.,contradiction
7,Kids eat lunch.,Children are eating.,entailment
8,Kids eat lunch.,They are at school.,-
"""


def build(tmp_path: Path, shape: str, text: str = ROWS, name: str = "nli.csv", **params):
    path = tmp_path / name
    path.write_text(text)
    ctx = BuildContext(shape=shape, seed=0, model="", cache_dir=tmp_path, log=lambda m: None)
    ds = NLIBuilder(Params(source=str(path), **params)).build(ctx, None)["train"]
    return ds, ctx.stats


def test_triplets_take_only_entailment_as_positive(tmp_path):
    ds, stats = build(tmp_path, "triplet")
    assert ds.column_names == ["anchor", "positive", "negative"]
    rows = {r["anchor"]: r for r in ds}
    assert rows["A man plays a guitar."]["positive"] == "A man plays music."
    assert rows["A man plays a guitar."]["negative"] == "A man is sleeping."
    assert rows["Kids eat lunch."]["negative"] == "Nobody eats."
    # no contradiction for this premise: a soft negative from another premise, never its own positive
    assert rows["Two dogs run."]["negative"] != "Animals are moving."
    assert stats["soft_negatives"] == 1 and stats["unlabelled_dropped"] == 1
    positives = {r["positive"] for r in ds}
    assert positives == {"A man plays music.", "Animals are moving.", "Children are eating."}


def test_pair_class_and_pair_score(tmp_path):
    ds, stats = build(tmp_path, "pair-class")
    assert len(ds) == 7 and set(ds["label"]) == {0, 1, 2}
    assert stats["labels"] == {"entailment": 3, "contradiction": 2, "neutral": 2}
    scored, _ = build(tmp_path, "pair-score")
    by_pair = {(r["sentence1"], r["sentence2"]): r["score"] for r in scored}
    assert by_pair[("A man plays a guitar.", "A man plays music.")] == 1.0
    assert by_pair[("A man plays a guitar.", "The man is famous.")] == 0.0  # neutral is not similar
    assert by_pair[("A man plays a guitar.", "A man is sleeping.")] == 0.0


def test_int_labels_tsv_and_limit(tmp_path):
    text = "premise\thypothesis\tlabel\na\tb\t0\na\tc\t2\nd\te\t1\nf\tg\t-1\n"
    ds, stats = build(tmp_path, "triplet", text, "nli.tsv")
    assert ds[0] == {"anchor": "a", "positive": "b", "negative": "c"}
    assert stats["unlabelled_dropped"] == 1
    limited, _ = build(tmp_path, "pair-class", ROWS, limit=3)
    assert len(limited) == 3


def test_jsonl_with_gold_label(tmp_path):
    text = '{"sentence1": "a", "sentence2": "b", "gold_label": "Entailment"}\n{"sentence1": "a", "sentence2": "c", "gold_label": "contradiction"}\n'
    ds, _ = build(tmp_path, "pair", text, "nli.jsonl")
    assert ds.to_list() == [{"anchor": "a", "positive": "b"}]


@pytest.mark.parametrize("text, message", [
    ("premise,hypothesis,label\na,b,maybe\n", "label 'maybe' is not an NLI label"),
    ("premise,hypothesis,label\na,b,7\n", "label '7' is not an NLI label"),
    ("premise,other,label\na,b,0\n", "no hypothesis column"),
    ("premise,hypothesis,label\n", "has no rows"),
    ("premise,hypothesis,label\na,b,1\n", "gives no triplet examples"),
])
def test_bad_files_fail_with_one_clear_line(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        build(tmp_path, "triplet", text)


def test_offline_default_uses_the_bundled_sample_and_says_so(tmp_path):
    said = []
    ctx = BuildContext(shape="triplet", seed=0, model="", cache_dir=tmp_path, log=said.append)
    ds = NLIBuilder(Params(limit=50)).build(ctx, None)["train"]
    assert len(ds) == 50
    assert any("bundled MultiNLI/SNLI sample" in m for m in said)
    assert ctx.stats["hub_id"] == "Tikquuss/nli_dataset"


def test_offline_other_hub_id_is_a_clear_error(tmp_path):
    ctx = BuildContext(shape="triplet", seed=0, model="", cache_dir=tmp_path, log=lambda m: None)
    with pytest.raises(DataError, match="pass a local file or folder"):
        NLIBuilder(Params(source="nyu-mll/glue", subset="mnli")).build(ctx, None)


def test_bundled_sample_never_trains_a_non_entailment_as_positive(tmp_path):
    from hubembed.bundled import read_nli_sample

    entailed = {(r["sentence1"], r["sentence2"]) for r in read_nli_sample() if r["label"] == "entailment"}
    ctx = BuildContext(shape="triplet", seed=0, model="", cache_dir=tmp_path, log=lambda m: None)
    ds = NLIBuilder(Params()).build(ctx, None)["train"]
    assert all((r["anchor"], r["positive"]) in entailed for r in ds)
    assert len(ds) == ctx.stats["examples"] > 3000


def test_the_bundled_sample_is_read_once_and_each_caller_gets_its_own_rows():
    from hubembed.bundled import NLI_SAMPLE, read_nli_sample
    from hubembed.datafiles import read_rows

    rows = read_nli_sample()
    assert rows == read_rows(NLI_SAMPLE.path) and len(rows) == 8920
    assert set(rows[0]) == {"pairID", "sentence1", "sentence2", "label"}
    rows[0]["label"] = "changed"
    assert read_nli_sample()[0]["label"] != "changed"  # a caller's edit does not reach the next caller


def test_a_file_with_nli_labels_is_surely_nli(tmp_path):
    for name, text in (("a.csv", ROWS), ("b.jsonl", '{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n')):
        (tmp_path / name).write_text(text)
        assert NLIBuilder.reads_file(tmp_path / name) == (2, {"source": str(tmp_path / name)})
    (tmp_path / "pairs.csv").write_text("anchor,positive\na,b\n")
    assert NLIBuilder.reads_file(tmp_path / "pairs.csv") is None
    (tmp_path / "broken.csv").write_text("")  # a data file it cannot read: the error names it, as before the hook
    with pytest.raises(DataError, match="broken.csv is empty"):
        NLIBuilder.reads_file(tmp_path / "broken.csv")
