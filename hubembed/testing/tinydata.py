"""Tiny datasets of every column shape, cut from the real data bundled with hubembed (no download).

`tiny_rows("triplet")` gives plain columns, `tiny_dataset("triplet")` a `datasets.Dataset`, `tiny_dataset_dict`
a DatasetDict with a "train" split (what a data builder returns, and what a transform gets as `upstream`), and
`write_tiny_file("pair", "pairs.csv")` a csv/tsv/jsonl file for builders that read files.

Texts are real sentences (MultiNLI/SNLI sample, STS Benchmark dev): triplets are (premise, entailed hypothesis,
contradicting hypothesis), pair-score rows carry STSB scores scaled to 0-1, pair-class rows NLI labels 0/1/2.
n-tuples (anchor, positive, negative_1, ...) come from the NLI triplets too; denoising rows pair a sentence with
a copy that lost ~60% of its words (TSDAE). Any other shape in `hubembed.types.SHAPES` gets texts in its text
columns, 0-1 floats in a `score` column and 0/1/2 in a `label` column.
"""

from __future__ import annotations

import csv
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from hubembed.types import SHAPES

LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}


@lru_cache(maxsize=1)
def _nli() -> tuple[tuple[str, str, int], ...]:
    from hubembed.bundled import read_nli_sample

    rows = [(r["sentence1"], r["sentence2"], LABELS[r["label"]]) for r in read_nli_sample() if r["label"] in LABELS]
    return tuple(r for r in rows if len(r[0]) < 200 and len(r[1]) < 200)  # short texts keep tiny runs tiny


@lru_cache(maxsize=1)
def _stsb() -> tuple[tuple[str, str, float], ...]:
    from hubembed.bundled import read_stsb

    s1, s2, gold = read_stsb("dev")
    return tuple(zip(s1, s2, (g / 5.0 for g in gold)))


@lru_cache(maxsize=1)
def _triplets() -> tuple[tuple[str, str, str], ...]:
    by_premise: dict[str, dict[int, str]] = {}
    for premise, hypothesis, label in _nli():
        by_premise.setdefault(premise, {}).setdefault(label, hypothesis)
    return tuple((p, h[0], h[2]) for p, h in by_premise.items() if 0 in h and 2 in h)


def tiny_rows(shape: str, n: int = 32, seed: int = 0) -> dict[str, list[Any]]:
    """`n` rows of `shape` as {column: values}, columns in the order of `SHAPES[shape]`; no text repeats in a
    column of a pair or triplet, so in-batch-negative losses see no false negatives."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    rng = random.Random(seed)
    columns = SHAPES[shape]
    if shape in ("triplet", "pair"):
        rows = list(_triplets())
        rng.shuffle(rows)
        return {c: [r[i] for r in rows[:n]] for i, c in enumerate(columns)}
    if shape == "pair-class":
        rows = list(_nli())
        rng.shuffle(rows)
        return {c: [r[i] for r in rows[:n]] for i, c in enumerate(columns)}
    if shape == "pair-score":
        rows = list(_stsb())
        rng.shuffle(rows)
        return {c: [r[i] for r in rows[:n]] for i, c in enumerate(columns)}
    if set(columns) >= {"anchor", "positive"} and all(c.startswith("negative") for c in columns[2:]):
        rows = list(_triplets())  # n-tuples: (anchor, positive, negative_1, ...) from NLI triplets
        rng.shuffle(rows)
        rows = rows[:n]
        out = {"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]}
        pool = [r[2] for r in _triplets()]
        for k, column in enumerate(columns[2:]):  # the contradiction first, then other premises' contradictions
            out[column] = [r[2] for r in rows] if k == 0 else [pool[(i * 7 + k * 13) % len(pool)] for i in range(len(rows))]
        return {c: out[c] for c in columns}
    sentences = sorted({s for row in _stsb() for s in row[:2]})
    rng.shuffle(sentences)
    out = {}
    for i, column in enumerate(columns):
        if column == "damaged" and "original" in columns:  # denoising: the original with words deleted
            continue
        if column == "score":
            out[column] = [round(rng.random(), 3) for _ in range(n)]
        elif column == "label":
            out[column] = [rng.randrange(3) for _ in range(n)]
        else:  # each text column its own slice of sentences
            out[column] = sentences[i * n : (i + 1) * n]
    if "damaged" in columns and "original" in columns:
        out["damaged"] = [" ".join(w for w in text.split() if rng.random() > 0.6) or text.split()[0] for text in out["original"]]
    return {c: out[c] for c in columns}


def tiny_dataset(shape: str, n: int = 32, seed: int = 0) -> Any:
    """A `datasets.Dataset` of `n` rows of `shape`."""
    from datasets import Dataset

    return Dataset.from_dict(tiny_rows(shape, n, seed))


def tiny_dataset_dict(shape: str, n: int = 32, seed: int = 0) -> Any:
    """A DatasetDict with a "train" split of `shape`: what a data step returns and a transform receives."""
    from datasets import DatasetDict

    return DatasetDict({"train": tiny_dataset(shape, n, seed)})


def write_tiny_file(shape: str, path: str | Path, n: int = 32, seed: int = 0) -> Path:
    """Write `n` rows of `shape` to a .csv, .tsv or .jsonl file (chosen by the suffix); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tiny_rows(shape, n, seed)
    rows = [dict(zip(data, values)) for values in zip(*data.values())]
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix in (".csv", ".tsv"):
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(data), delimiter="\t" if path.suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f"{path}: write .csv, .tsv or .jsonl")
    return path
