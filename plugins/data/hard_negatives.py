"""Hard-negative miner: a transform that adds mined negatives to (anchor, positive) pairs or triplets.

Anchors and a candidate pool are embedded once (cached on disk, keyed by model and data), the top `range_max`
candidates of every anchor are found block by block, the margin and score filters (and optionally a cross-encoder
that drops likely false negatives) remove candidates, the `range_min` best of the rest are skipped, and negatives
are picked from what is left. The same knobs as sentence-transformers' `util.mine_hard_negatives`, measured side by side in
`benchmarks/hard_negatives.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hubembed.api import BuildContext, ConfigError, DataBuilder, DataError, read_sentences
from hubembed_plugins.data import _vectors as vec


@dataclass(frozen=True)
class Params:
    model: str = field(default="", metadata={"help": "embedding model that ranks candidates (path or Hub id); empty: the run's base model"})
    num_negatives: int = field(default=1, metadata={"help": "negatives mined per anchor (n-tuple columns negative_1..N)"})
    range_min: int = field(default=10, metadata={"help": "skip the range_min most similar candidates left after the filters (often unlabelled positives)"})
    range_max: int = field(default=50, metadata={"help": "consider candidates up to this rank"})
    absolute_margin: float | None = field(default=None, metadata={"help": "keep a negative only if sim(anchor, neg) <= sim(anchor, pos) - margin"})
    relative_margin: float | None = field(default=0.05, metadata={"help": "keep a negative only if sim(anchor, neg) <= sim(anchor, pos) - |sim(anchor, pos)| x margin"})
    max_score: float | None = field(default=None, metadata={"help": "drop candidates more similar to the anchor than this"})
    min_score: float | None = field(default=None, metadata={"help": "drop candidates less similar to the anchor than this"})
    sampling: Literal["top", "random"] = field(default="top", metadata={"help": "top: the best-ranked candidates left in the window; random: a seeded random pick"})
    pool: Literal["positives", "all"] = field(default="positives", metadata={"help": "candidates: the positives of all anchors, or all: positives and the input's negatives"})
    corpus: str = field(default="", metadata={"help": "extra candidates: a text file (one per line) or a data file with a `text` column"})
    cross_encoder: str = field(default="", metadata={"help": "cross-encoder folder that rescores kept candidates to drop likely false negatives"})
    ce_max_score: float = field(default=0.5, metadata={"help": "with cross_encoder: drop candidates it scores above this (or above the positive)"})
    batch_size: int = field(default=128, metadata={"help": "texts per encoder batch"})
    chunk_size: int = field(default=4096, metadata={"help": "anchors per top-k block (memory: chunk_size x pool scores)"})
    precision: Literal["auto", "fp32", "bf16"] = field(default="auto", metadata={"help": "encoder precision: auto (bf16 where the CPU/GPU runs it fast), fp32, bf16"})
    cache: bool = field(default=True, metadata={"help": "cache embeddings on disk, keyed by model and data fingerprint"})


class HardNegativesMiner(DataBuilder):
    summary = "Mine hard negatives for (anchor, positive) pairs with an embedding model: rank window, margins, cross-encoder filter"
    Params = Params
    consumes = ("triplet", "pair")
    produces = ("n-tuple", "triplet")
    citation = """@article{moreira2024nvretriever,
    title = {NV-Retriever: Improving text embedding models with effective hard-negative mining},
    author = {Moreira, Gabriel de Souza P. and Osmulski, Radek and Xu, Mengyao and Ak, Ronay and Schifferer, Benedikt and Oldridge, Even},
    journal = {arXiv preprint arXiv:2407.15831}, year = {2024}
}"""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        p = self.params
        if p.num_negatives < 1:
            raise ConfigError(f"hard-negatives: num_negatives must be at least 1, got {p.num_negatives}")
        if p.range_min < 0 or p.range_max <= p.range_min:
            raise ConfigError(f"hard-negatives: need 0 <= range_min < range_max, got {p.range_min} and {p.range_max}")
        if p.num_negatives > p.range_max - p.range_min:
            raise ConfigError(
                f"hard-negatives: {p.num_negatives} negatives cannot come from the {p.range_max - p.range_min} ranks "
                f"between range_min={p.range_min} and range_max={p.range_max}; widen the window"
            )
        if p.batch_size < 1 or p.chunk_size < 1:
            raise ConfigError("hard-negatives: batch_size and chunk_size must be at least 1")

    @classmethod
    def check_params(cls, workdir: Path) -> dict[str, Any]:
        return {"range_min": 2, "range_max": 12, "num_negatives": 2, "relative_margin": None, "precision": "fp32"}

    def build(self, ctx: BuildContext, upstream: Any) -> Any:
        from datasets import Dataset, DatasetDict

        p = self.params
        started = time.time()
        texts = self._texts(upstream["train"])
        q, c, cached, precision = self._embed(ctx, texts)
        embed_s = time.time() - started

        search_started = time.time()
        scores, indices = vec.topk_blocks(
            q, c, p.range_max, exclude=_never_negatives(texts), chunk_size=p.chunk_size, log=ctx.log
        )
        pos_ids = _positive_ids(texts)
        pair_scores, pos_score = _hardest_positive(q, c, pos_ids, len(texts.anchors))
        keep, skipped = self._keep(ctx, texts, pos_ids, scores, indices, pos_score)
        picked = _pick(keep, scores, indices, p.num_negatives, p.sampling, ctx.seed)
        search_s = time.time() - search_started

        columns, mean_neg = self._rows(ctx.shape, texts, picked)
        if not columns["anchor"]:
            raise DataError(
                f"hard-negatives: no anchor kept {p.num_negatives} negative(s) after the filters "
                f"(skipped: {skipped or 'none'}); widen range_max, lower range_min, or relax the margins/max_score"
            )
        full = int((picked.found >= p.num_negatives).sum())
        ctx.stats.update(
            anchors=len(texts.anchors),
            candidates=len(texts.pool),
            anchors_with_negatives=full,
            anchors_without=len(texts.anchors) - full,
            rows=len(columns["anchor"]),
            mean_positive_similarity=round(float(pair_scores.mean()), 4),
            mean_negative_similarity=None if mean_neg is None else round(mean_neg, 4),
            skipped_candidates=skipped,
            embeddings_cached=cached,
            precision=precision,
            model=p.model or "the base model",
            seconds={"embed": round(embed_s, 2), "search": round(search_s, 2)},
        )
        ctx.log(
            f"hard-negatives: {full}/{len(texts.anchors)} anchors got {p.num_negatives} negative(s); mean similarity "
            f"positive {ctx.stats['mean_positive_similarity']}, negative {ctx.stats['mean_negative_similarity']}"
        )
        return DatasetDict({"train": Dataset.from_dict(columns)})

    def _texts(self, ds: Any) -> _Texts:
        """The upstream columns, its unique anchors (one row each, all their positives) and a deduplicated pool."""
        p = self.params
        anchors_col, positives_col = ds["anchor"], ds["positive"]
        given_negs = [ds[c] for c in ds.column_names if c == "negative" or c.startswith("negative_")]
        anchors = list(dict.fromkeys(anchors_col))
        pool_texts = list(positives_col)
        if p.pool == "all":
            for column in given_negs:
                pool_texts.extend(column)
        if p.corpus:
            pool_texts.extend(read_sentences(p.corpus))
        pool = list(dict.fromkeys(pool_texts))
        if len(pool) <= p.range_min:
            raise DataError(
                f"hard-negatives: the candidate pool has {len(pool)} texts, not more than range_min={p.range_min}; "
                f"lower range_min, or add candidates with corpus=FILE or pool=all"
            )
        return _Texts(
            anchors_col, positives_col, given_negs, anchors, pool,
            a_index={a: i for i, a in enumerate(anchors)}, c_index={t: i for i, t in enumerate(pool)},
        )

    def _embed(self, ctx: BuildContext, texts: _Texts) -> tuple[Any, Any, bool, str]:
        """Anchor and candidate vectors from one embedding pass over both (cached), whether it was cached, and the
        precision it ran in."""
        import torch

        p = self.params
        precision = vec.resolve_precision(p.precision)
        model_path = p.model or ctx.model
        model = vec.load_model(model_path)
        every = list(dict.fromkeys(texts.anchors + texts.pool))
        row_of = {t: i for i, t in enumerate(every)}
        ctx.log(f"hard-negatives: {len(texts.anchors)} anchors, {len(texts.pool)} candidates, model {model_path}")
        vectors, cached = vec.embed(
            model, every, model_key=vec.model_fingerprint(model_path) if p.cache else "", cache_dir=ctx.cache_dir if p.cache else None,
            batch_size=p.batch_size, precision=precision, log=ctx.log, what="anchors and candidates",
        )
        q = vectors[torch.tensor([row_of[a] for a in texts.anchors])]
        c = vectors[torch.tensor([row_of[t] for t in texts.pool])]
        return q, c, cached, precision

    def _keep(self, ctx: BuildContext, texts: _Texts, pos_ids: dict[int, list[int]], scores: Any, indices: Any,
              pos_score: Any) -> tuple[Any, dict[str, int]]:
        """Which ranked candidates may be picked after the margin, score and cross-encoder filters and the rank
        window, and how many each filter dropped."""
        import torch

        p = self.params
        keep = indices >= 0
        skipped: dict[str, int] = {}
        ps = pos_score.unsqueeze(1)
        if p.absolute_margin is not None:
            keep = _drop(keep, scores > ps - p.absolute_margin, "absolute_margin", skipped)
        if p.relative_margin is not None:
            keep = _drop(keep, scores > ps - ps.abs() * p.relative_margin, "relative_margin", skipped)
        if p.max_score is not None:
            keep = _drop(keep, scores > p.max_score, "max_score", skipped)
        if p.min_score is not None:
            keep = _drop(keep, scores < p.min_score, "min_score", skipped)
        if p.cross_encoder:
            rejects = self._cross_encoder_rejects(texts.anchors, texts.pool, pos_ids, indices, keep, ctx)
            keep = _drop(keep, rejects, "cross_encoder", skipped)
        # The rank window, as in sentence-transformers: skip the range_min best candidates left after the filters.
        return keep & (torch.cumsum(keep.int(), dim=1) > p.range_min), skipped

    def _rows(self, shape: str, texts: _Texts, picked: _Picked) -> tuple[dict[str, list[str]], float | None]:
        """Output rows: n-tuples (given negatives first, then the mined ones; rows short of num_negatives dropped) or
        triplets (one row per negative); and the mean similarity of the mined negatives kept."""
        import torch

        p = self.params
        idx = picked.indices.tolist()
        neg_scores = []
        if shape == "n-tuple":
            full = (picked.found >= p.num_negatives).tolist()
            width = len(texts.given_negs) + p.num_negatives
            columns: dict[str, list[str]] = {"anchor": [], "positive": [], **{f"negative_{i + 1}": [] for i in range(width)}}
            for row, (a, pos) in enumerate(zip(texts.anchors_col, texts.positives_col)):
                i = texts.a_index[a]
                if not full[i]:
                    continue
                columns["anchor"].append(a)
                columns["positive"].append(pos)
                negs = [col[row] for col in texts.given_negs] + [texts.pool[j] for j in idx[i][: p.num_negatives]]
                for k, neg in enumerate(negs):
                    columns[f"negative_{k + 1}"].append(neg)
            kept = torch.tensor(full)
            if kept.any():
                neg_scores = picked.scores[kept][:, : p.num_negatives].flatten().tolist()
        else:  # triplet: one row per given negative and per mined negative
            columns = {"anchor": [], "positive": [], "negative": []}
            counts = picked.found.tolist()
            for row, (a, pos) in enumerate(zip(texts.anchors_col, texts.positives_col)):
                i = texts.a_index[a]
                negs = [col[row] for col in texts.given_negs] + [texts.pool[j] for j in idx[i][: counts[i]]]
                for neg in negs:
                    columns["anchor"].append(a)
                    columns["positive"].append(pos)
                    columns["negative"].append(neg)
            neg_scores = picked.scores[torch.isfinite(picked.scores)].tolist()
        mean_neg = sum(neg_scores) / len(neg_scores) if neg_scores else None
        return columns, mean_neg

    def _cross_encoder_rejects(self, anchors, pool, pos_ids, indices, keep, ctx) -> Any:
        """True where the cross-encoder scores a kept candidate above ce_max_score or above the anchor's positive."""
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        from hubembed.api import ModelLoadError

        p = self.params
        try:
            ce = CrossEncoder(p.cross_encoder)
        except Exception as err:  # noqa: BLE001 - any failure to load: say which folder, with its cause
            raise ModelLoadError(f"hard-negatives: cannot load cross_encoder {p.cross_encoder} ({str(err).splitlines()[0][:160]})") from err
        rows, cols = torch.nonzero(keep, as_tuple=True)
        pairs = [(anchors[r], pool[int(indices[r, k])]) for r, k in zip(rows.tolist(), cols.tolist())]
        first_pos = {a: ids[0] for a, ids in pos_ids.items()}
        pos_pairs = [(anchors[a], pool[first_pos[a]]) for a in range(len(anchors))]
        ctx.log(f"  cross-encoder rescoring {len(pairs)} candidates and {len(pos_pairs)} positives...")
        cand = torch.as_tensor(ce.predict(pairs, batch_size=p.batch_size, show_progress_bar=False), dtype=torch.float32)
        pos = torch.as_tensor(ce.predict(pos_pairs, batch_size=p.batch_size, show_progress_bar=False), dtype=torch.float32)
        reject = torch.zeros_like(keep)
        reject[rows, cols] = (cand > p.ce_max_score) | (cand >= pos[rows])
        return reject


@dataclass(frozen=True)
class _Texts:
    """The upstream rows and what is mined over: its unique anchors and a deduplicated candidate pool."""

    anchors_col: Any  # the upstream columns, one value per row
    positives_col: Any
    given_negs: list[Any]  # its negative columns (negative, or negative_1..N), in order
    anchors: list[str]
    pool: list[str]
    a_index: dict[str, int]  # anchor text -> row of `anchors`
    c_index: dict[str, int]  # candidate text -> row of `pool`


@dataclass(frozen=True)
class _Picked:
    """Each anchor's picked negatives, best first: pool rows, scores (-inf past the ones found) and how many."""

    indices: Any
    scores: Any
    found: Any


def _never_negatives(texts: _Texts) -> dict[int, list[int]]:
    """What an anchor must never get as a negative: its positives, its given negatives, itself."""
    exclude: dict[int, set[int]] = {}
    for row, (a, pos) in enumerate(zip(texts.anchors_col, texts.positives_col)):
        bad = exclude.setdefault(texts.a_index[a], set())
        bad.add(texts.c_index[pos])
        for column in texts.given_negs:
            if column[row] in texts.c_index:
                bad.add(texts.c_index[column[row]])
    for a, i in texts.a_index.items():
        if a in texts.c_index:
            exclude[i].add(texts.c_index[a])
    return {k: sorted(v) for k, v in exclude.items()}


def _positive_ids(texts: _Texts) -> dict[int, list[int]]:
    """The pool rows of each anchor's positives."""
    pos_ids: dict[int, list[int]] = {}
    for a, pos in zip(texts.anchors_col, texts.positives_col):
        pos_ids.setdefault(texts.a_index[a], []).append(texts.c_index[pos])
    return pos_ids


def _hardest_positive(q: Any, c: Any, pos_ids: dict[int, list[int]], n_anchors: int) -> tuple[Any, Any]:
    """The similarity of every (anchor, positive) pair, and each anchor's lowest: its hardest positive sets the
    margins (as in sentence-transformers)."""
    import torch

    flat_a = torch.tensor([a for a, ids in pos_ids.items() for _ in ids])
    flat_p = torch.tensor([i for ids in pos_ids.values() for i in ids])
    pair_scores = (q[flat_a] * c[flat_p]).sum(dim=1)
    pos_score = torch.full((n_anchors,), float("inf"))
    return pair_scores, pos_score.scatter_reduce(0, flat_a, pair_scores, reduce="amin")


def _drop(keep: Any, mask: Any, reason: str, skipped: dict[str, int]) -> Any:
    """`keep` without `mask`, counting in `skipped[reason]` the kept candidates it drops."""
    hit = int((keep & mask).sum())
    if hit:
        skipped[reason] = hit
    return keep & ~mask


def _pick(keep: Any, scores: Any, indices: Any, num_negatives: int, sampling: str, seed: int) -> _Picked:
    """The best-ranked kept candidates, or a seeded random choice among them; best first either way."""
    import torch

    if sampling == "top":
        order_key = torch.where(keep, -torch.arange(keep.shape[1], dtype=torch.float32).expand_as(scores), -float("inf"))
    else:
        gen = torch.Generator().manual_seed(seed)
        order_key = torch.where(keep, torch.rand(keep.shape, generator=gen), -float("inf"))
    key, pick = torch.topk(order_key, min(num_negatives, keep.shape[1]), dim=1)
    picked_idx = torch.gather(indices, 1, pick)
    picked_scores = torch.where(torch.isfinite(key), torch.gather(scores, 1, pick), -float("inf"))
    resort = torch.argsort(picked_scores, dim=1, descending=True)
    picked_scores = torch.gather(picked_scores, 1, resort)
    return _Picked(torch.gather(picked_idx, 1, resort), picked_scores, torch.isfinite(picked_scores).sum(dim=1))
