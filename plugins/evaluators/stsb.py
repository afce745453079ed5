"""STS Benchmark: Pearson and Spearman correlation of cosine similarity with gold scores (dev and test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.api import EvalContext, Evaluator, Flag, Score

HUB_ID = "sentence-transformers/stsb"
SPLITS = {"validation": "dev", "test": "test"}  # Hub split name -> bundled file split
SOURCES = ("auto", "hub", "bundled")
SCATTER_PNG = "{assets}/stsb_validation_scatter.png"


@dataclass(frozen=True)
class Params:
    splits: tuple[str, ...] = field(default=("validation", "test"), metadata={"help": "validation and/or test"})
    source: str = field(default="auto", metadata={"help": f"auto ({HUB_ID} when reachable, else bundled), hub or bundled"})

    def __post_init__(self) -> None:  # checked when the run is resolved, not after the data is built and the model loaded
        unknown = [s for s in self.splits if s not in SPLITS]
        if unknown or not self.splits:
            what = f"split {unknown[0]!r} is unknown" if unknown else "no split is given"
            raise ValueError(f"{what}; use validation and/or test (or --eval none for no evaluation)")
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is unknown; use one of {', '.join(SOURCES)}")


class STSBEvaluator(Evaluator):
    summary = "STS Benchmark Pearson/Spearman of cosine similarity on validation and test"
    Params = Params
    flags = (Flag("--stsb", "STS Benchmark validation and test (what `hubembed eval MODEL` scores when no evaluator is chosen)"),)
    citation = """@inproceedings{cer-etal-2017-semeval,
    title = "{S}em{E}val-2017 Task 1: Semantic Textual Similarity Multilingual and Crosslingual Focused Evaluation",
    author = "Cer, Daniel and Diab, Mona and Agirre, Eneko and Lopez-Gazpio, I{\\~n}igo and Specia, Lucia",
    booktitle = "Proceedings of SemEval-2017", year = "2017"
}"""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._cache: dict[str, tuple] = {}

    def evaluate(self, model: Any, ctx: EvalContext) -> list[Score]:
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

        scores: list[Score] = []
        for split in self.params.splits:
            s1, s2, gold, dataset, revision = self._load(split, ctx)
            evaluator = EmbeddingSimilarityEvaluator(
                s1, s2, gold, name=f"sts-{SPLITS[split]}", batch_size=ctx.batch_size, show_progress_bar=False
            )
            result = evaluator(model)
            for metric in ("pearson_cosine", "spearman_cosine"):
                scores.append(
                    Score(
                        task="STSB",
                        task_type="semantic-similarity",
                        dataset=dataset,
                        dataset_name=f"STS Benchmark ({split})",
                        split=split,
                        metric=metric,
                        value=float(result[f"sts-{SPLITS[split]}_{metric}"]),
                        revision=revision,
                        main=metric == "spearman_cosine",
                    )
                )
        return scores

    def headline(self, scores: list[Score]) -> Score | None:
        """Test Spearman where the test split was scored (what papers and the book report), else the first main."""
        lead = [s for s in scores if s.task == "STSB" and s.split == "test" and s.metric == "spearman_cosine"]
        return lead[0] if lead else super().headline(scores)

    def figures(self, model: Any, folder: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
        """The trained model's cosine of each validation pair against its gold score, as a scatter plot."""
        from scipy.stats import pearsonr, spearmanr

        from hubembed.api import ASSETS, draw_scatter, read_stsb

        s1, s2, gold = read_stsb("dev")  # the same 1,500 pairs as sentence-transformers/stsb validation
        predicted = _cosines(model, s1, s2, batch_size=64)
        draw_scatter(predicted, gold, folder / SCATTER_PNG.format(assets=ASSETS), title="STS Benchmark (validation)",
                     xlabel="gold similarity (0-5)")
        spearman, pearson = float(spearmanr(gold, predicted).statistic), float(pearsonr(gold, predicted).statistic)
        return {"stsb_scatter": {
            "file": SCATTER_PNG.format(assets=ASSETS),
            "title": "STS Benchmark validation: predicted cosine similarity against the gold score",
            "caption": f"Each point is one STS Benchmark validation pair: its gold similarity (0-5) against the cosine "
                       f"similarity of this model's embeddings ({len(gold)} pairs; Spearman {spearman:.4f}, "
                       f"Pearson {pearson:.4f})",
            "pairs": len(gold),
            "spearman_cosine": round(spearman, 4),
            "pearson_cosine": round(pearson, 4),
        }}

    def _load(self, split: str, ctx: EvalContext) -> tuple[list[str], list[str], list[float], str, str | None]:
        """The split's pairs, loaded once per run (base and trained model see the same data)."""
        if split not in self._cache:
            self._cache[split] = self._fetch(split, ctx)
        return self._cache[split]

    def _fetch(self, split: str, ctx: EvalContext) -> tuple[list[str], list[str], list[float], str, str | None]:
        from hubembed.api import STSB, hub_unreachable, read_stsb

        reason = hub_unreachable() if self.params.source != "bundled" else "source is bundled"
        if reason is None:
            try:
                from datasets import load_dataset

                ds = load_dataset(HUB_ID, split=split)
                return list(ds["sentence1"]), list(ds["sentence2"]), [float(x) for x in ds["score"]], HUB_ID, None
            except Exception as err:  # noqa: BLE001 - missing or broken on the Hub: fall back below, and say so
                reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        if self.params.source == "hub":
            from hubembed.api import DataError

            raise DataError(f"stsb: cannot load {HUB_ID} ({reason}); use --set eval.stsb.source=bundled")
        if self.params.source == "auto" and not self._cache:
            ctx.log(f"Hub unreachable ({reason}): evaluating on the bundled STS Benchmark ({STSB['dev'].hub_id}, same pairs and scores)")
        s1, s2, gold = read_stsb(SPLITS[split])
        return s1, s2, [g / 5.0 for g in gold], STSB[SPLITS[split]].hub_id, STSB[SPLITS[split]].revision


def _cosines(model: Any, s1: list[str], s2: list[str], batch_size: int) -> list[float]:
    """Cosine similarity of each (s1[i], s2[i]) under `model`, each distinct text embedded once."""
    texts = list(dict.fromkeys(s1 + s2))
    emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True)
    index = {t: i for i, t in enumerate(texts)}
    a = emb[[index[t] for t in s1]]
    b = emb[[index[t] for t in s2]]
    return [float(x) for x in (a * b).sum(dim=-1).float().cpu()]
