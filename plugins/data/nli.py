"""NLI pairs -> training examples: entailment is the only positive; contradiction is the hard negative."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.api import (
    FORMATS,
    NLI_SAMPLE,
    SHAPES,
    BuildContext,
    DataBuilder,
    DataError,
    columns_of,
    pick_column,
    read_files,
)
from hubembed.api import FileRows

DEFAULT_SOURCE = "sentence-transformers/all-nli"
LABELS = ("entailment", "neutral", "contradiction")  # index = the int label of MNLI, SNLI and all-nli
LABEL_WORDS = {"entailment": 0, "neutral": 1, "contradiction": 2, "entails": 0, "contradicts": 2}
UNLABELLED = {"-", "", "-1", "none", "null"}
PREMISE = ("premise", "sentence1", "sentence_1", "text_a", "anchor")
HYPOTHESIS = ("hypothesis", "sentence2", "sentence_2", "text_b")
LABEL = ("label", "gold_label", "labels")
LABELLED = {"label", "gold_label"}  # a local file with one of these columns is NLI data
TABULAR = tuple(fmt + gz for fmt in FORMATS for gz in ("", ".gz"))


@dataclass(frozen=True)
class Params:
    source: str = field(
        default=DEFAULT_SOURCE,
        metadata={"help": "Hub dataset id (e.g. nyu-mll/glue) or a local csv/tsv/jsonl/parquet file or folder"},
    )
    subset: str | None = field(default=None, metadata={"help": "Hub dataset config (all-nli: pair-class; glue: mnli)"})
    split: str = field(default="train", metadata={"help": "Hub dataset split"})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many training examples (shuffled)"})


class NLIBuilder(DataBuilder):
    summary = "NLI premise/hypothesis/label pairs as 3-way pairs, scored pairs, or (anchor, entailment, contradiction) triplets"
    Params = Params
    produces = ("pair-class", "pair-score", "triplet", "pair")
    citation = """@inproceedings{bowman2015snli,
    title = "A large annotated corpus for learning natural language inference",
    author = "Bowman, Samuel R. and Angeli, Gabor and Potts, Christopher and Manning, Christopher D.",
    booktitle = "Proceedings of EMNLP", year = "2015"
}
@inproceedings{williams2018mnli,
    title = "A Broad-Coverage Challenge Corpus for Sentence Understanding through Inference",
    author = "Williams, Adina and Nangia, Nikita and Bowman, Samuel",
    booktitle = "Proceedings of NAACL-HLT", year = "2018"
}"""

    @classmethod
    def reads_file(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """A data file (or folder) whose first file has a label or gold_label column is surely NLI pairs. A data file
        that cannot be read is a DataError here, naming the file; other files (text, unknown formats) are not ours."""
        if not (path.is_dir() or (path.is_file() and path.name.endswith(TABULAR))):
            return None
        if LABELLED & set(columns_of(path)):
            return 2, {"source": str(path)}
        return None

    def build(self, ctx: BuildContext, upstream: Any) -> Any:
        from datasets import Dataset, DatasetDict

        if ctx.shape == "pair-class" and ctx.num_labels is not None and ctx.num_labels < len(LABELS):
            raise DataError(f"NLI labels are {len(LABELS)} classes (entailment, neutral, contradiction) but the loss "
                            f"has num_labels {ctx.num_labels}; --set loss.num_labels={len(LABELS)}")
        if not Path(self.params.source).exists():
            ctx.stats["hub_id"] = self.params.source
        parts, label_names, origin = self._read(ctx)
        pairs, dropped = _normalise(parts, label_names)
        ctx.stats.update(
            source=origin,
            rows_read=sum(len(part.rows) for part in parts),
            unlabelled_dropped=dropped,
            labels=dict(Counter(LABELS[label] for _, _, label in pairs)),
        )
        examples = _convert(pairs, ctx.shape, random.Random(ctx.seed), ctx.stats)
        random.Random(ctx.seed).shuffle(examples)
        if self.params.limit is not None:
            examples = examples[: self.params.limit]
        if not examples:
            raise DataError(f"{origin} gives no {ctx.shape} examples (labels found: {ctx.stats['labels']}); check the data")
        ctx.stats["examples"] = len(examples)
        columns = SHAPES[ctx.shape]
        return DatasetDict({"train": Dataset.from_dict({c: [e[i] for e in examples] for i, c in enumerate(columns)})})

    def _read(self, ctx: BuildContext) -> tuple[list[FileRows], list[str] | None, str]:
        from hubembed.api import hub_unreachable, read_nli_sample

        source = self.params.source
        if Path(source).exists():
            return read_files(source), None, source
        reason = hub_unreachable()
        if reason is None:
            try:
                rows, names, origin = _from_hub(source, self.params.subset, self.params.split)
                return [FileRows(origin, rows)], names, origin
            except Exception as err:  # noqa: BLE001 - offline, gated, missing: the reason is raised or logged below
                reason = _reason(err)
        if source != DEFAULT_SOURCE:
            raise DataError(
                f"cannot load NLI dataset {source!r} ({reason}); pass a local file or folder with --set data.source=PATH"
            )
        ctx.log(f"Hub unreachable ({reason}): using the {NLI_SAMPLE.description} instead of {DEFAULT_SOURCE}")
        ctx.stats["hub_id"] = NLI_SAMPLE.hub_id
        bundled = FileRows(str(NLI_SAMPLE.path), read_nli_sample())
        return [bundled], None, f"{NLI_SAMPLE.hub_id}@{NLI_SAMPLE.revision} (bundled sample)"


def _from_hub(source: str, subset: str | None, split: str) -> tuple[list[dict[str, Any]], list[str] | None, str]:
    from datasets import load_dataset

    if subset is None and source == DEFAULT_SOURCE:
        subset = "pair-class"
    ds = load_dataset(source, subset, split=split)
    feature = ds.features.get("label") or ds.features.get("gold_label")
    names = list(feature.names) if hasattr(feature, "names") else None
    return ds.to_list(), names, f"{source}{':' + subset if subset else ''}[{split}]"


def _reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:160]


def _normalise(parts: list[FileRows], label_names: list[str] | None) -> tuple[list[tuple[str, str, int]], int]:
    """(premise, hypothesis, label 0/1/2) for every labelled row; count the unlabelled ones dropped."""
    pairs, dropped = [], 0
    for part in parts:
        if not part.rows:
            continue
        columns = list(part.rows[0])
        p, h, l = (pick_column(columns, spellings, role, part.file)
                   for spellings, role in ((PREMISE, "premise"), (HYPOTHESIS, "hypothesis"), (LABEL, "label")))
        for n, row in enumerate(part.rows):
            label = _label(row.get(l), label_names, part, n)
            if label is None:
                dropped += 1
            elif row.get(p) and row.get(h):
                pairs.append((str(row[p]), str(row[h]), label))
    return pairs, dropped


def _label(value: Any, names: list[str] | None, part: FileRows, n: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):  # 1.5, nan, inf
        return _bad(value, part, n)
    if isinstance(value, (int, float)) or re.fullmatch(r"-?[0-9]+", str(value).strip()):
        index = int(value)
        if index == -1:
            return None
        if names:  # the dataset says what its ints mean
            word = names[index] if 0 <= index < len(names) else ""
            return LABEL_WORDS.get(word.lower()) if word.lower() in LABEL_WORDS else _bad(value, part, n)
        return index if index in (0, 1, 2) else _bad(value, part, n)
    text = str(value).strip().lower()
    if text in UNLABELLED:
        return None
    return LABEL_WORDS[text] if text in LABEL_WORDS else _bad(value, part, n)


def _bad(value: Any, part: FileRows, n: int) -> int:
    raise DataError(
        f"{part.where(n)}: label {value!r} is not an NLI label; use 0/1/2 or entailment/neutral/contradiction "
        f"(- for unlabelled)"
    )


def _convert(pairs: list[tuple[str, str, int]], shape: str, rng: random.Random, stats: dict[str, Any]) -> list[tuple]:
    if shape == "pair-class":
        return list(pairs)
    if shape == "pair-score":  # only entailment is similar; neutral is not a paraphrase either
        return [(p, h, 1.0 if label == 0 else 0.0) for p, h, label in pairs]
    entail: dict[str, list[str]] = defaultdict(list)
    contra: dict[str, list[str]] = defaultdict(list)
    for p, h, label in pairs:
        if label == 0:
            entail[p].append(h)
        elif label == 2:
            contra[p].append(h)
    if shape == "pair":
        return [(p, h) for p, hs in entail.items() for h in hs]
    pool = [h for _, h, _ in pairs]
    triplets, soft = [], 0
    for premise, positives in entail.items():
        negatives = contra.get(premise, [])
        for i, positive in enumerate(positives):
            if negatives:
                negative = negatives[i % len(negatives)]
            else:  # no contradiction for this premise: a random hypothesis of another premise (easy negative)
                negative = rng.choice(pool)
                while negative in positives and len(pool) > len(positives):
                    negative = rng.choice(pool)
                soft += 1
            triplets.append((premise, positive, negative))
    stats["soft_negatives"] = soft
    return triplets
