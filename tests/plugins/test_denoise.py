"""The denoise builder (TSDAE input): word deletion, sentence sources, and bad input."""

from __future__ import annotations

import random

import pytest

from hubembed import config as cfgmod
from hubembed.errors import ConfigError, DataError
from hubembed.types import BuildContext
from hubembed_plugins.data.denoise import DenoiseBuilder, Params, delete_words


def build(tmp_path, **params):
    ctx = BuildContext(shape="denoising", seed=0, model="", cache_dir=tmp_path, log=lambda m: None)
    return DenoiseBuilder(Params(**params)).build(ctx, None)["train"], ctx.stats


def test_deletes_about_the_ratio_and_keeps_a_word():
    rng = random.Random(0)
    sentence = " ".join(f"word{i}" for i in range(1000))
    damaged, kept, total = delete_words(sentence, 0.6, rng)
    assert total == 1000 and 340 < kept < 460 and len(damaged.split()) == kept
    assert all(w in sentence.split() for w in damaged.split())
    assert delete_words("Hello, world!", 0.0, rng)[0] == "Hello, world!"  # no deletion: the text comes back
    for _ in range(50):
        text, kept, _ = delete_words("Two words", 0.99, rng)
        assert kept >= 1 and text


def test_default_source_is_the_bundled_nli_sentences(tmp_path):
    ds, stats = build(tmp_path, limit=200)
    assert ds.column_names == ["damaged", "original"] and len(ds) == 200
    assert all(len(d) < len(o) or d == o for d, o in zip(ds["damaged"], ds["original"]))
    assert 0.3 < stats["words_kept"] < 0.5 and "bundled sample" in stats["source"]
    again, _ = build(tmp_path, limit=200)
    assert again["damaged"] == ds["damaged"]  # seeded
    from hubembed.bundled import nli_sample_sentences

    assert set(ds["original"]) <= set(nli_sample_sentences())


def test_bundled_sentences_are_premises_then_hypotheses_stripped():
    from hubembed.bundled import nli_sample_sentences, read_nli_sample

    rows = read_nli_sample()
    sentences = nli_sample_sentences()
    assert sentences[:2] == [rows[0]["sentence1"].strip(), rows[0]["sentence2"].strip()]
    assert all(s and s == s.strip() for s in sentences) and len(sentences) <= 2 * len(rows)


def test_text_file_and_a_column_of_a_data_file(tmp_path):
    txt = tmp_path / "domain.txt"
    txt.write_text("The pump failed at dawn.\n\n  The valve leaks oil.  \nThe pump failed at dawn.\n")
    ds, stats = build(tmp_path, source=str(txt), deletion_ratio=0.0)
    assert sorted(ds["original"]) == ["The pump failed at dawn.", "The valve leaks oil."]  # stripped, deduplicated
    assert ds["damaged"] == ds["original"] and stats["sentences"] == 2
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text('{"id": 1, "body": "Bearings need grease."}\n{"id": 2, "body": "Gears need oil."}\n')
    ds, _ = build(tmp_path, source=str(jsonl), column="body")
    assert sorted(ds["original"]) == ["Bearings need grease.", "Gears need oil."]


def test_a_text_file_on_the_command_line_goes_to_denoise(tmp_path):
    txt = tmp_path / "s.txt"
    txt.write_text("One sentence.\n")
    step = cfgmod.data_step(str(txt))
    assert cfgmod.resolve_data((step,))[0].info.short == "denoise" and step.params == {"source": str(txt)}


@pytest.mark.parametrize(
    "content, params, message",
    [
        ("\n  \n\n", {}, "holds no sentences"),
        ("...\n!!\n", {}, "no words"),
        ('{"text": "a"}\n', {"column": "body"}, "no column 'body'"),
    ],
)
def test_empty_or_unusable_corpus_is_one_clear_error(tmp_path, content, params, message):
    path = tmp_path / ("c.jsonl" if content.startswith("{") else "c.txt")
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        build(tmp_path, source=str(path), **params)


def test_bad_params():
    with pytest.raises(ConfigError, match="deletion_ratio"):
        DenoiseBuilder(Params(deletion_ratio=1.0))
    with pytest.raises(DataError, match="does not exist"):
        DenoiseBuilder(Params(source="/nope.txt")).build(BuildContext("denoising", 0, "", None), None)
