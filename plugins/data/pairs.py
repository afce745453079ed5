"""Local files of pairs, triplets or scored pairs, with a column mapping."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.api import SHAPES, BuildContext, DataBuilder, DataError, columns_of, read_files
from hubembed.api import FileRows

SHAPE_CHOICES = ("triplet", "pair-score", "pair-class", "pair")  # detection order: most specific first


@dataclass(frozen=True)
class Params:
    path: str = field(default="", metadata={"help": "csv/tsv/jsonl/json/parquet file (or folder of them)"})
    columns: dict[str, str] = field(
        default_factory=dict,
        metadata={"help": "map hubembed columns to yours, e.g. {anchor: question, positive: answer}"},
    )
    shape: str = field(default="auto", metadata={"help": f"auto (from the columns) or one of {', '.join(SHAPES)}"})
    score_scale: float = field(default=1.0, metadata={"help": "divide scores by this (5 for STSB's 0-5 scores)"})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many examples (shuffled)"})

    def __post_init__(self) -> None:
        if not 0 < self.score_scale < float("inf"):
            raise ValueError(f"score_scale is {self.score_scale!r}; it must be a number above 0 (5 for 0-5 scores)")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit is {self.limit!r}; it must be 1 or more (or unset, for every row)")


class PairsBuilder(DataBuilder):
    summary = "Pairs, triplets or scored pairs from local files, with a column mapping"
    Params = Params
    produces = SHAPE_CHOICES

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        if not self.params.path:
            raise DataError("the pairs data builder needs a file: --data PATH or --set data.path=PATH")
        if self.params.shape != "auto" and self.params.shape not in SHAPES:
            raise DataError(f"pairs: shape {self.params.shape!r} is unknown; use auto or one of {', '.join(SHAPES)}")
        # What this file can give is known from its header, so the run is checked before anything heavy loads.
        self.produces = (self.params.shape,) if self.params.shape != "auto" else self._detect()

    @classmethod
    def reads_file(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """Any file or folder that exists may be pairs: the surer builders (nli, denoise) take theirs first, and a
        file that no shape fits is a DataError naming its columns when the step is made."""
        return (1, {"path": str(path)}) if path.exists() else None

    def _renamed(self, columns: list[str]) -> list[str]:
        back = {theirs: ours for ours, theirs in self.params.columns.items()}
        return [back.get(c, c) for c in columns]

    def _detect(self) -> tuple[str, ...]:
        columns = self._renamed(columns_of(self.params.path))
        fits = tuple(s for s in SHAPE_CHOICES if all(c in columns for c in SHAPES[s]))
        if not fits:
            wanted = "; ".join(f"{s}: {', '.join(SHAPES[s])}" for s in SHAPE_CHOICES)
            raise DataError(
                f"{self.params.path} has columns {', '.join(columns)}, which fit no shape ({wanted}); "
                f"map yours with --set data.columns='{{anchor: your_col, positive: other_col}}'"
            )
        return fits

    def build(self, ctx: BuildContext, upstream: Any) -> Any:
        import random

        parts = read_files(self.params.path)
        examples = [e for part in parts for e in self._examples(part, ctx.shape, ctx.num_labels)]
        random.Random(ctx.seed).shuffle(examples)
        if self.params.limit is not None:
            examples = examples[: self.params.limit]
        if not examples:
            raise DataError(f"{self.params.path} has no complete {ctx.shape} rows")
        ctx.stats.update(source=self.params.path, rows_read=sum(len(p.rows) for p in parts), examples=len(examples))
        from datasets import Dataset, DatasetDict  # only now: bad rows fail before the heavy import

        names = SHAPES[ctx.shape]
        return DatasetDict({"train": Dataset.from_dict({c: [e[i] for e in examples] for i, c in enumerate(names)})})

    def _examples(self, part: FileRows, shape: str, num_labels: int | None) -> list[list[Any]]:
        """The complete rows of one file as examples; a bad value is a DataError naming the file and line."""
        names = SHAPES[shape]
        rows = [dict(zip(self._renamed(list(r)), r.values())) for r in part.rows]
        missing = [c for c in names if rows and c not in rows[0]]
        if missing:
            raise DataError(f"{part.file} lacks column(s) {', '.join(missing)} for {shape} data")
        examples = []
        for i, row in enumerate(rows):
            if any(row.get(c) in (None, "") for c in names):
                continue  # an incomplete row is left out, as before
            try:
                examples.append(_example(row, names, shape, self.params.score_scale, num_labels))
            except _BadValue as bad:
                raise DataError(f"{part.where(i)}: {bad}") from None
        high = max((e[2] for e in examples), default=0.0) if shape == "pair-score" else 0.0
        if high > 1.0:
            raise DataError(f"{part.file}: scores go up to {high:g}; scale them to 0-1 with --set data.score_scale={high:g}")
        return examples


class _BadValue(ValueError):
    """A value that cannot be trained on; the builder adds where it is."""


def _example(row: dict[str, Any], names: tuple[str, ...], shape: str, scale: float, num_labels: int | None) -> list[Any]:
    texts = [_text(row[c], c) for c in names if c not in ("score", "label")]
    if shape == "pair-score":
        return [*texts, _score(row["score"]) / scale]
    if shape == "pair-class":
        return [*texts, _label(row["label"], num_labels)]
    return texts


def _text(value: Any, column: str) -> str:
    if not isinstance(value, str):
        raise _BadValue(f"{column} is a {type(value).__name__}, not text; give a string")
    return value


def _score(value: Any) -> float:
    score = _number(value)
    if score is None:
        raise _BadValue(f"score {value!r} is not a number; give a similarity from 0 to 1 (or 0 to score_scale)")
    if not math.isfinite(score):
        raise _BadValue(f"score {value!r} is not a finite number; give a similarity from 0 to 1, or remove the row")
    return score


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _label(value: Any, num_labels: int | None) -> int:
    """A class number 0, 1, 2, ... below the loss's `num_labels` (softmax: its num_labels param)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+(\.0*)?", value.strip()):  # pandas writes 1.0 for 1
        number = int(float(value))
    else:
        number = -1
    if number < 0:
        words = " (for entailment/neutral/contradiction words use --data nli)" if str(value).strip().isalpha() else ""
        raise _BadValue(f"label {value!r} is not a class number 0, 1, 2, ...; give whole numbers below the loss's num_labels{words}")
    if num_labels is not None and number >= num_labels:
        raise _BadValue(f"label {number} is beyond the loss's classes (num_labels {num_labels}: labels 0 to "
                        f"{num_labels - 1}); fix the row, or --set loss.num_labels={number + 1} if it has more classes")
    return number
