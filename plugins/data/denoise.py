"""TSDAE input: sentences with a share of their words deleted, paired with the original sentence."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.api import NLI_SAMPLE, BuildContext, ConfigError, DataBuilder, DataError, read_sentences

TEXT_FILES = (".txt", ".txt.gz")  # plain text, one sentence per line
TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)
NO_SPACE_BEFORE = set(".,!?;:%)]}'’\"")
NO_SPACE_AFTER = set("([{$\"")


@dataclass(frozen=True)
class Params:
    source: str = field(
        default="nli",
        metadata={"help": "nli (the bundled NLI sample's sentences), a text file (one sentence per line) or a csv/tsv/jsonl/parquet file"},
    )
    column: str = field(default="text", metadata={"help": "the text column of a csv/tsv/jsonl/parquet source"})
    deletion_ratio: float = field(default=0.6, metadata={"help": "share of words deleted from each sentence (TSDAE: 0.6)"})
    limit: int | None = field(default=None, metadata={"help": "keep at most this many sentences (shuffled)"})


class DenoiseBuilder(DataBuilder):
    summary = "TSDAE pairs: sentences with a share of their words deleted (default 60%), and the original (from a text file or a dataset column)"
    Params = Params
    produces = ("denoising",)
    citation = """@inproceedings{wang-2021-TSDAE,
    title = "TSDAE: Using Transformer-based Sequential Denoising Auto-Encoder for Unsupervised Sentence Embedding Learning",
    author = "Wang, Kexin and Reimers, Nils and Gurevych, Iryna",
    booktitle = "Findings of EMNLP 2021", year = "2021", url = "https://arxiv.org/abs/2104.06979"
}"""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        if not 0.0 <= self.params.deletion_ratio < 1.0:
            raise ConfigError(f"denoise: deletion_ratio must be in [0, 1), got {self.params.deletion_ratio}")
        if self.params.limit is not None and self.params.limit < 1:
            raise ConfigError(f"denoise: limit must be at least 1, got {self.params.limit}")

    @classmethod
    def check_params(cls, workdir: Path) -> dict[str, Any]:
        return {"limit": 32}

    @classmethod
    def reads_file(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """A plain text file is surely sentences to denoise (TSDAE)."""
        if path.is_file() and path.name.endswith(TEXT_FILES):
            return 2, {"source": str(path)}
        return None

    def build(self, ctx: BuildContext, upstream: Any) -> Any:
        from datasets import Dataset, DatasetDict

        sentences, origin = self._sentences()
        sentences = list(dict.fromkeys(sentences))
        rng = random.Random(ctx.seed)
        rng.shuffle(sentences)
        if self.params.limit is not None:
            sentences = sentences[: self.params.limit]
        damaged, kept = [], 0
        total = 0
        for sentence in sentences:
            text, n_kept, n_words = delete_words(sentence, self.params.deletion_ratio, rng)
            damaged.append(text)
            kept += n_kept
            total += n_words
        if self.params.source == "nli":
            ctx.stats["hub_id"] = NLI_SAMPLE.hub_id
        ctx.stats.update(
            source=origin,
            sentences=len(sentences),
            deletion_ratio=self.params.deletion_ratio,
            words_kept=round(kept / total, 3) if total else 0.0,
            example={"damaged": damaged[0], "original": sentences[0]},
        )
        return DatasetDict({"train": Dataset.from_dict({"damaged": damaged, "original": sentences})})

    def _sentences(self) -> tuple[list[str], str]:
        source = self.params.source
        if source == "nli":
            from hubembed.api import nli_sample_sentences

            return nli_sample_sentences(), f"{NLI_SAMPLE.hub_id}@{NLI_SAMPLE.revision} (bundled sample, premises and hypotheses)"
        if not Path(source).exists():
            raise DataError(f"denoise: {source} does not exist; give a text file (one sentence per line), a data file, or nli")
        sentences = read_sentences(source, self.params.column)
        if not any(re.search(r"\w", s) for s in sentences):
            raise DataError(f"denoise: {source} has no words to learn from; give a file of sentences")
        return sentences, source


def delete_words(sentence: str, ratio: float, rng: random.Random) -> tuple[str, int, int]:
    """Delete each token with probability `ratio` (at least one survives); return (text, tokens kept, tokens).

    The same noise as sentence-transformers' DenoisingAutoEncoderDataset.delete, with a regex tokenizer instead of
    nltk's (which needs a data download): words and punctuation are tokens, and the survivors are joined back."""
    tokens = TOKEN.findall(sentence)
    if not tokens:
        return sentence, 0, 0
    keep = [rng.random() >= ratio for _ in tokens]
    if not any(keep):
        keep[rng.randrange(len(tokens))] = True
    kept = [t for t, k in zip(tokens, keep) if k]
    return detokenize(kept), len(kept), len(tokens)


def detokenize(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        if out and token[0] not in NO_SPACE_BEFORE and out[-1] not in NO_SPACE_AFTER:
            out += " "
        out += token
    return out
