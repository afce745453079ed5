"""Real data shipped in the wheel (see hubembed/data/ATTRIBUTION.md), used when the Hub cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from hubembed.datafiles import read_rows


@dataclass(frozen=True)
class BundledData:
    file: str
    hub_id: str  # the Hub dataset the file comes from, for cards and model-index
    revision: str
    description: str

    @property
    def path(self) -> Path:
        return Path(str(files("hubembed") / "data" / self.file))


NLI_SAMPLE = BundledData(
    "nli-sample.csv.gz",
    "Tikquuss/nli_dataset",
    "6a11ce69",
    "bundled MultiNLI/SNLI sample (8,920 labelled pairs)",
)
STSB = {
    split: BundledData(
        f"stsb-en-{split}.csv.gz", "PhilipMay/stsb-multi-mt", "30de0dec", f"bundled STS Benchmark {split} split"
    )
    for split in ("train", "dev", "test")
}


def read_stsb(split: str) -> tuple[list[str], list[str], list[float]]:
    """STSB rows of a split as (sentences1, sentences2, gold scores 0-5)."""
    import csv
    import gzip

    with gzip.open(STSB[split].path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


@lru_cache(maxsize=1)
def _nli_sample_rows() -> tuple[dict[str, str], ...]:
    return tuple(read_rows(NLI_SAMPLE.path))


def read_nli_sample() -> list[dict[str, str]]:
    """The bundled NLI sample's rows ({pairID, sentence1, sentence2, label}; label is entailment, neutral,
    contradiction or - for unlabelled), in file order. Read once per process; each call gets its own copies."""
    return [dict(row) for row in _nli_sample_rows()]


def nli_sample_sentences() -> list[str]:
    """The bundled NLI sample's sentences: each row's premise then hypothesis, stripped, empty ones dropped (repeats
    kept), in file order."""
    pairs = ((row.get("sentence1"), row.get("sentence2")) for row in _nli_sample_rows())
    texts = (str(text).strip() for pair in pairs for text in pair if text)
    return [text for text in texts if text]
