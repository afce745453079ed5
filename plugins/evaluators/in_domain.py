"""In-domain evaluation on the run's own held-out rows, by their shape (issue #13, work in progress on this branch).

- pair / triplet / n-tuple: retrieval. Each held-out anchor is a query; the corpus is every held-out positive and
  negative; its positive is the relevant document. sentence-transformers' InformationRetrievalEvaluator (nDCG@10 the
  headline, MRR@10, Recall@1/@10), and TripletEvaluator accuracy where negatives exist.
- pair-score: EmbeddingSimilarityEvaluator (Spearman of cosine).

Not registered yet (no entry point; tests use it through --code). The pipeline cuts the held-out rows at the source
through `hold_out()` and hands them over as `ctx.held_out`. Left to do for #13: register it and choose where it sits
among the default evaluators; a source's own validation split and `--eval-data FILE`; pair-class and denoising
shapes; training-side distractors in the corpus; held-out size and fingerprint in the record and the card
(model-index "held-out" split); the best checkpoint; the push gate; the README measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.api import EvalContext, Evaluator, Score

RETRIEVAL = ("pair", "triplet", "n-tuple")
IR_METRICS = {"ndcg@10": "ndcg_at_10", "mrr@10": "mrr_at_10", "recall@1": "recall_at_1", "recall@10": "recall_at_10"}


@dataclass(frozen=True)
class Params:
    share: float = field(default=0.05, metadata={"help": "share of the source's anchors held out (0: none, no in-domain score)"})
    max_rows: int = field(default=1000, metadata={"help": "at most this many held-out rows"})


class InDomainEvaluator(Evaluator):
    summary = "Held-out rows of the run's own data, scored by their shape (retrieval for pairs and triplets)"
    Params = Params

    def evaluate(self, model: Any, ctx: EvalContext) -> list[Score]:
        if ctx.held_out is None:
            return []
        shape, ds = ctx.held_out
        if shape in RETRIEVAL:
            has_negatives = bool({"negative", "negative_1"} & set(ds.column_names))
            return self._retrieval(model, ds, ctx) + (self._triplets(model, ds, ctx) if has_negatives else [])
        if shape == "pair-score":
            return self._similarity(model, ds, ctx)
        return []

    def hold_out(self, ds: Any, shape: str) -> tuple[Any, Any] | None:
        from hubembed.api import split_held_out as split

        if self.params.share <= 0 or shape not in (*RETRIEVAL, "pair-score"):
            return None
        cut = split(ds, shape, share=self.params.share, max_rows=self.params.max_rows)
        return cut.train, cut.held_out

    def headline(self, scores: list[Score]) -> Score | None:
        lead = [s for s in scores if s.metric == "ndcg_at_10"]
        return lead[0] if lead else super().headline(scores)

    def _retrieval(self, model: Any, ds: Any, ctx: EvalContext) -> list[Score]:
        from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

        negatives = [c for c in ds.column_names if c.startswith("negative")]
        corpus_texts = list(dict.fromkeys([*ds["positive"], *(t for c in negatives for t in ds[c])]))
        corpus = {f"d{i}": t for i, t in enumerate(corpus_texts)}
        doc_id = {t: d for d, t in corpus.items()}
        query_id: dict[str, str] = {}  # anchor text -> query id: an anchor with several positives is one query
        relevant: dict[str, set[str]] = {}
        for anchor, positive in zip(ds["anchor"], ds["positive"]):
            q = query_id.setdefault(anchor, f"q{len(query_id)}")
            relevant.setdefault(q, set()).add(doc_id[positive])
        queries = {q: anchor for anchor, q in query_id.items()}
        result = InformationRetrievalEvaluator(queries, corpus, relevant, name="in-domain", batch_size=ctx.batch_size,
                                               ndcg_at_k=[10], mrr_at_k=[10], precision_recall_at_k=[1, 10],
                                               accuracy_at_k=[1], map_at_k=[10], write_csv=False)(model)
        return [self._score("retrieval", "Retrieval", metric, result[f"in-domain_cosine_{key}"], main=metric == "ndcg_at_10")
                for key, metric in IR_METRICS.items()]

    def _triplets(self, model: Any, ds: Any, ctx: EvalContext) -> list[Score]:
        from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

        negative = "negative" if "negative" in ds.column_names else "negative_1"
        result = TripletEvaluator(ds["anchor"], ds["positive"], ds[negative], name="in-domain", batch_size=ctx.batch_size,
                                  write_csv=False)(model)
        return [self._score("triplets", "triplet-accuracy", "cosine_accuracy", result["in-domain_cosine_accuracy"])]

    def _similarity(self, model: Any, ds: Any, ctx: EvalContext) -> list[Score]:
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

        result = EmbeddingSimilarityEvaluator(ds["sentence1"], ds["sentence2"], [float(x) for x in ds["score"]],
                                              name="in-domain", batch_size=ctx.batch_size, write_csv=False)(model)
        return [self._score("similarity", "semantic-similarity", "spearman_cosine", result["in-domain_spearman_cosine"], main=True)]

    @staticmethod
    def _score(kind: str, task_type: str, metric: str, value: float, main: bool = False) -> Score:
        return Score(task=f"in-domain {kind}", task_type=task_type, dataset="held-out", dataset_name=f"held-out ({kind})",
                     split="held-out", metric=metric, value=float(value), main=main, task_name=f"In-domain {kind}")
