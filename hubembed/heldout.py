"""The held-out split of a run's own data (issue #13, work in progress on this branch: not wired into runs yet).

Rows are grouped by their anchor (the text a shape's rows share: an NLI premise, a query), and whole groups are held
out, so no anchor sits on both sides. Which groups: those whose anchor hashes lowest (sha256 of the text), so the
split is the same on every machine and seed, and mostly stays put when rows are added.
"""

from __future__ import annotations

import hashlib
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


def split(ds: Any, shape: str, share: float = SHARE, max_rows: int = MAX_ROWS) -> Split:
    """Hold out `share` of the anchors of `ds` (at least MIN_GROUPS, at most `max_rows` rows); one line when the
    data has too few anchors to spare them."""
    column = ANCHOR[shape]
    texts = ds[column]
    order = sorted({t: _rank(t) for t in texts}.items(), key=lambda kv: kv[1])
    wanted = max(MIN_GROUPS, round(share * len(order)))
    if len(order) < 2 * wanted:
        raise DataError(
            f"the data has {len(order)} distinct {column} texts, too few to hold out {wanted} for the in-domain "
            f"evaluation; give held-out rows with --eval-data FILE, or turn it off"
        )
    held: set[str] = set()
    rows = 0
    counts = _counts(texts)
    for text, _ in order[:wanted]:
        if held and rows + counts[text] > max_rows:
            break
        held.add(text)
        rows += counts[text]
    keep = [i for i, t in enumerate(texts) if t not in held]
    out = [i for i, t in enumerate(texts) if t in held]
    return Split(ds.select(keep), ds.select(out), len(held), column)


def _rank(text: str) -> int:
    return int.from_bytes(hashlib.sha256(" ".join(str(text).split()).encode()).digest()[:8], "big")


def _counts(texts: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    return counts
