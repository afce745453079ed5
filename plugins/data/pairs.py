"""Local files of pairs, triplets or scored pairs, with a column mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.errors import DataError
from hubembed.types import SHAPES, BuildContext, DataBuilder

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

    def _renamed(self, columns: list[str]) -> list[str]:
        back = {theirs: ours for ours, theirs in self.params.columns.items()}
        return [back.get(c, c) for c in columns]

    def _detect(self) -> tuple[str, ...]:
        from hubembed.datafiles import columns_of

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

        from datasets import Dataset, DatasetDict

        from hubembed.datafiles import read_rows

        rows = read_rows(self.params.path)
        names = SHAPES[ctx.shape]
        renamed = [dict(zip(self._renamed(list(r)), r.values())) for r in rows]
        missing = [c for c in names if c not in renamed[0]]
        if missing:
            raise DataError(f"{self.params.path} lacks column(s) {', '.join(missing)} for {ctx.shape} data")
        examples = [[r[c] for c in names] for r in renamed if all(r[c] not in (None, "") for c in names)]
        if ctx.shape == "pair-score":
            examples = [[a, b, float(s) / self.params.score_scale] for a, b, s in examples]
            high = max((e[2] for e in examples), default=0.0)
            if high > 1.0:
                raise DataError(f"{self.params.path}: scores go up to {high:g}; scale them to 0-1 with --set data.score_scale={high:g}")
        if ctx.shape == "pair-class":
            examples = [[a, b, int(label)] for a, b, label in examples]
        random.Random(ctx.seed).shuffle(examples)
        if self.params.limit is not None:
            examples = examples[: self.params.limit]
        if not examples:
            raise DataError(f"{self.params.path} has no complete {ctx.shape} rows")
        ctx.stats.update(source=self.params.path, rows_read=len(rows), examples=len(examples))
        return DatasetDict({"train": Dataset.from_dict({c: [e[i] for e in examples] for i, c in enumerate(names)})})
