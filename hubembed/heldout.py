"""The held-out split of a run's own data: rows the model never trains on, which the in-domain evaluator scores.

Rows are grouped by their anchor (the text a shape's rows share: an NLI premise, a query), and whole groups are held
out, so no anchor sits on both sides. Which groups: those whose anchor hashes lowest (sha256 of the text), so the
split is the same on every machine and seed, and mostly stays put when rows are added. The pipeline cuts it at the
source, before any transform (mined negatives are for the training side only); a source's own validation split or
`--eval-data FILE` replaces the cut.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from hubembed.errors import DataError

# the column whose text rows of a shape share when they belong together
ANCHOR = {"pair": "anchor", "triplet": "anchor", "n-tuple": "anchor", "pair-score": "sentence1",
          "pair-class": "premise", "sentences": "text", "denoising": "original"}
SHARE = 0.05  # of the anchors
MIN_GROUPS = 8  # fewer held-out anchors than this measure nothing
MAX_ROWS = 1000  # enough for a stable score, cheap enough to evaluate ten times per run


@dataclass(frozen=True)
class Split:
    train: Any  # datasets.Dataset
    held_out: Any
    groups: int  # held-out anchors
    column: str


@dataclass(frozen=True)
class HeldOut:
    """The held-out rows of a run as an evaluator gets them (`EvalContext.held_out`): their shape, the rows, the
    source's training rows (for distractors), and what the card says about them."""

    shape: str
    rows: Any  # datasets.Dataset of `shape`
    train: Any  # the source's training rows (same shape): distractor texts come from here, never queries
    source: str  # the data's Hub id or file name (never an absolute path)
    origin: str  # how the rows were chosen, in words
    fingerprint: str = ""

    def facts(self) -> dict[str, Any]:
        """What the run record and the card keep."""
        return {"shape": self.shape, "rows": len(self.rows), "anchors": len(set(self.rows[ANCHOR[self.shape]])),
                "source": self.source, "origin": self.origin, "fingerprint": self.fingerprint}


def split(ds: Any, shape: str, share: float = SHARE, max_rows: int = MAX_ROWS) -> Split:
    """Hold out `share` of the anchors of `ds` (at least MIN_GROUPS, at most `max_rows` rows); one line when the
    data has too few anchors to spare them."""
    column = ANCHOR[shape]
    texts = ds[column]
    order = ranked(texts)
    wanted = max(MIN_GROUPS, round(share * len(order)))
    if len(order) < 2 * wanted:
        raise DataError(
            f"the data has {len(order)} distinct {column} texts, too few to hold out {wanted} for the in-domain "
            f"evaluation (at least {2 * wanted} are needed); give held-out rows with --eval-data FILE, or train on "
            f"every row with --no-held-out"
        )
    held = _groups(order[:wanted], _counts(texts), max_rows)
    keep = [i for i, t in enumerate(texts) if t not in held]
    out = [i for i, t in enumerate(texts) if t in held]
    return Split(ds.select(keep), ds.select(out), len(held), column)


def bounded(ds: Any, shape: str, max_rows: int = MAX_ROWS) -> Any:
    """At most `max_rows` rows of given held-out data (a validation split, --eval-data), whole anchor groups."""
    if len(ds) <= max_rows:
        return ds
    texts = ds[ANCHOR[shape]]
    held = _groups(ranked(texts), _counts(texts), max_rows)
    return ds.select([i for i, t in enumerate(texts) if t in held])


def ranked(texts: list[str]) -> list[str]:
    """The distinct texts in hash order: the order every split and sample here takes them in."""
    return sorted(set(texts), key=_rank)


def fingerprint(ds: Any) -> str:
    """sha256 of the rows (order-free), short: two runs on the same held-out rows compare."""
    rows = sorted(json.dumps(row, sort_keys=True, ensure_ascii=False) for row in ds.to_list())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _groups(order: list[str], counts: dict[str, int], max_rows: int) -> set[str]:
    held: set[str] = set()
    rows = 0
    for text in order:
        if held and rows + counts[text] > max_rows:
            break
        held.add(text)
        rows += counts[text]
    return held


def _rank(text: str) -> int:
    return int.from_bytes(hashlib.sha256(" ".join(str(text).split()).encode()).digest()[:8], "big")


def _counts(texts: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    return counts


def take(evaluators: list[Any], ds: Any, shape: str, source: str, given: tuple[Any, str, str | None] | None) -> HeldOut | None:
    """The held-out rows the first evaluator that asks for them takes from the source's rows `ds` (or from `given`:
    (rows, how they were chosen, their name if not `source`'s)), named and fingerprinted; None when none asks."""
    import dataclasses

    for step in evaluators:
        held = step.plugin.hold_out(ds, shape, given[0] if given else None)
        if held is not None:
            return dataclasses.replace(held, source=(given[2] if given else None) or source, origin=given[1] if given else held.origin,
                                       fingerprint=fingerprint(held.rows))
    return None
