"""In-domain evaluation: the run's own held-out rows, scored by their shape.

- pair / triplet / n-tuple: retrieval. Each held-out anchor is a query; the corpus is every held-out positive and
  negative plus up to `distractors` texts of the training side; its positives are the relevant documents.
  sentence-transformers' InformationRetrievalEvaluator (nDCG@10 the headline, MRR@10, Recall@1/@10), and
  TripletEvaluator accuracy where negatives exist.
- pair-class (NLI): retrieval of each premise's entailed hypotheses among all held-out hypotheses.
- denoising (TSDAE): retrieval of each original sentence from its damaged copy.
- pair-score: EmbeddingSimilarityEvaluator (Spearman of cosine).
- sentences: nothing to pair, so no score (said once).

The pipeline cuts the held-out rows at the source through `hold_out()` and hands them over as `ctx.held_out`; during
training `training_evaluator()` scores a smaller slice of them so the best step can be kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.api import EvalContext, Evaluator, HeldOut, Score, bound_held_out, ranked_texts, split_held_out

RETRIEVAL = ("pair", "triplet", "n-tuple", "pair-class", "denoising")
SCORED = (*RETRIEVAL, "pair-score")
IR_METRICS = {"ndcg@10": "ndcg_at_10", "mrr@10": "mrr_at_10", "recall@1": "recall_at_1", "recall@10": "recall_at_10"}
ENTAILMENT = 0  # the NLI label of an entailed hypothesis


@dataclass(frozen=True)
class Params:
    share: float = field(default=0.05, metadata={"help": "share of the source's anchors held out (0: none, no in-domain score)"})
    max_rows: int = field(default=1000, metadata={"help": "at most this many held-out rows"})
    distractors: int = field(default=1000, metadata={"help": "training-side texts added to the retrieval corpus"})


@dataclass(frozen=True)
class Retrieval:
    """A retrieval task built from held-out rows: queries, corpus, the relevant documents of each query."""

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant: dict[str, set[str]]


class InDomainEvaluator(Evaluator):
    summary = "Held-out rows of the run's own data, never trained on, scored by their shape (retrieval for pairs and triplets)"
    Params = Params

    def hold_out(self, ds: Any, shape: str, given: Any = None) -> HeldOut | None:
        if self.params.share <= 0 or shape not in SCORED:
            return None
        if given is not None:
            return HeldOut(shape, bound_held_out(given, shape, self.params.max_rows), ds, "", "given")
        cut = split_held_out(ds, shape, share=self.params.share, max_rows=self.params.max_rows)
        origin = f"{self.params.share:.0%} of the source's {cut.column} texts, chosen by hash, with all their rows"
        return HeldOut(shape, cut.held_out, cut.train, "", origin)

    def evaluate(self, model: Any, ctx: EvalContext) -> list[Score]:
        held = ctx.held_out
        if held is None:
            if ctx.label == "base":
                ctx.log("  in-domain: no held-out rows to score (`hubembed train` holds them out of pairs, triplets, NLI "
                        "or TSDAE data, unless --no-held-out; a run's in-domain scores stay in its record)")
            return []
        if held.shape == "pair-score":
            return self._similarity(model, held.rows, ctx)
        task = self.retrieval(held, len(held.rows), self.params.distractors)
        if not task.queries:
            ctx.log(f"  in-domain: the held-out {held.shape} rows have no anchor with a positive; no score")
            return []
        scores = self._retrieval(model, task, ctx)
        negative = next((c for c in ("negative", "negative_1") if c in held.rows.column_names), None)
        return scores + (self._triplets(model, held.rows, negative, ctx) if negative else [])

    def training_evaluator(self, ctx: EvalContext, texts: int) -> tuple[Any, str] | None:
        held = ctx.held_out
        if held is None or held.shape not in RETRIEVAL:
            return None
        rows = max(32, texts // (len(held.rows.column_names) + 1))  # its rows' texts plus as many distractors
        return _ir_evaluator(self.retrieval(held, rows, rows), "held-out", ctx), "held-out_cosine_ndcg@10"

    def headline(self, scores: list[Score]) -> Score | None:
        lead = [s for s in scores if s.metric == "ndcg_at_10"]
        return lead[0] if lead else super().headline(scores)

    @staticmethod
    def retrieval(held: HeldOut, rows: int, distractors: int) -> Retrieval:
        """Queries and documents of the first `rows` held-out rows (whole anchor groups), plus `distractors`
        training-side documents; all in hash order, the same on every call."""
        ds = bound_held_out(held.rows, held.shape, rows)
        pairs, documents, train_documents = _pairs(ds, held.train, held.shape)
        kept = set(documents)
        extra = [t for t in ranked_texts(train_documents) if t not in kept][:distractors]
        corpus_texts = list(dict.fromkeys([*documents, *extra]))
        corpus = {f"d{i}": t for i, t in enumerate(corpus_texts)}
        doc_id = {t: d for d, t in corpus.items()}
        query_id: dict[str, str] = {}  # a query text with several positives is one query
        relevant: dict[str, set[str]] = {}
        for query, positive in pairs:
            q = query_id.setdefault(query, f"q{len(query_id)}")
            relevant.setdefault(q, set()).add(doc_id[positive])
        return Retrieval({q: text for text, q in query_id.items()}, corpus, relevant)

    def _retrieval(self, model: Any, task: Retrieval, ctx: EvalContext) -> list[Score]:
        result = _ir_evaluator(task, "in-domain", ctx)(model)
        return [_score(ctx.held_out, "retrieval", "Retrieval", metric, result[f"in-domain_cosine_{key}"], metric == "ndcg_at_10")
                for key, metric in IR_METRICS.items()]

    def _triplets(self, model: Any, ds: Any, negative: str, ctx: EvalContext) -> list[Score]:
        from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

        result = TripletEvaluator(ds["anchor"], ds["positive"], ds[negative], name="in-domain", batch_size=ctx.batch_size,
                                  show_progress_bar=False, write_csv=False)(model)
        return [_score(ctx.held_out, "triplets", "triplet-accuracy", "cosine_accuracy", result["in-domain_cosine_accuracy"])]

    def _similarity(self, model: Any, ds: Any, ctx: EvalContext) -> list[Score]:
        from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

        result = EmbeddingSimilarityEvaluator(ds["sentence1"], ds["sentence2"], [float(x) for x in ds["score"]],
                                              name="in-domain", batch_size=ctx.batch_size, show_progress_bar=False,
                                              write_csv=False)(model)
        return [_score(ctx.held_out, "similarity", "semantic-similarity", "spearman_cosine",
                       result["in-domain_spearman_cosine"], True)]


def _ir_evaluator(task: Retrieval, name: str, ctx: EvalContext) -> Any:
    """sentence-transformers' InformationRetrievalEvaluator on `task`, computing the metrics IR_METRICS reads."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    return InformationRetrievalEvaluator(task.queries, task.corpus, task.relevant, name=name, batch_size=ctx.batch_size,
                                         ndcg_at_k=[10], mrr_at_k=[10], precision_recall_at_k=[1, 10], accuracy_at_k=[1],
                                         map_at_k=[10], show_progress_bar=False, write_csv=False)


def _pairs(ds: Any, train: Any, shape: str) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(query, relevant document) pairs, every held-out document, and the training side's documents, by shape."""
    if shape == "pair-class":
        entailed = [(p, h) for p, h, label in zip(ds["premise"], ds["hypothesis"], ds["label"]) if int(label) == ENTAILMENT]
        return entailed, list(ds["hypothesis"]), list(train["hypothesis"])
    if shape == "denoising":
        return list(zip(ds["damaged"], ds["original"])), list(ds["original"]), list(train["original"])
    columns = ["positive", *(c for c in ds.column_names if c.startswith("negative"))]
    return (list(zip(ds["anchor"], ds["positive"])), [t for c in columns for t in ds[c]],
            [t for c in columns if c in train.column_names for t in train[c]])


def _score(held: HeldOut, kind: str, task_type: str, metric: str, value: float, main: bool = False) -> Score:
    """A held-out score: the dataset is the user's data (Hub id or file name), its revision the rows' fingerprint,
    so two runs' cards compare only on the same held-out rows."""
    return Score(task=f"in-domain {kind}", task_type=task_type, dataset=held.source, dataset_name=f"{held.source} (held-out)",
                 split="held-out", metric=metric, value=float(value), revision=held.fingerprint or None, main=main,
                 task_name=f"In-domain {kind}")
