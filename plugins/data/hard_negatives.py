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

from hubembed.errors import ConfigError, DataError
from hubembed.types import BuildContext, DataBuilder


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
        import torch
        from datasets import Dataset, DatasetDict

        from hubembed_plugins.data import _vectors as vec

        p = self.params
        ds = upstream["train"]
        anchors_col, positives_col = ds["anchor"], ds["positive"]
        given_neg_cols = [c for c in ds.column_names if c == "negative" or c.startswith("negative_")]
        given_negs = [ds[c] for c in given_neg_cols]
        started = time.time()

        # Unique anchors (one row each, all their positives), a deduplicated pool, and one embedding pass over both.
        anchors = list(dict.fromkeys(anchors_col))
        a_index = {a: i for i, a in enumerate(anchors)}
        pool_texts = list(positives_col)
        if p.pool == "all":
            for column in given_negs:
                pool_texts.extend(column)
        if p.corpus:
            from hubembed.datafiles import read_sentences

            pool_texts.extend(read_sentences(p.corpus))
        pool = list(dict.fromkeys(pool_texts))
        c_index = {t: i for i, t in enumerate(pool)}
        if len(pool) <= p.range_min:
            raise DataError(
                f"hard-negatives: the candidate pool has {len(pool)} texts, not more than range_min={p.range_min}; "
                f"lower range_min, or add candidates with corpus=FILE or pool=all"
            )

        precision = vec.resolve_precision(p.precision)
        model_path = p.model or ctx.model
        model = vec.load_model(model_path)
        texts = list(dict.fromkeys(anchors + pool))
        t_index = {t: i for i, t in enumerate(texts)}
        ctx.log(f"hard-negatives: {len(anchors)} anchors, {len(pool)} candidates, model {model_path}")
        vectors, cached = vec.embed(
            model, texts, model_key=vec.model_fingerprint(model_path) if p.cache else "", cache_dir=ctx.cache_dir if p.cache else None,
            batch_size=p.batch_size, precision=precision, log=ctx.log, what="anchors and candidates",
        )
        embed_s = time.time() - started
        q = vectors[torch.tensor([t_index[a] for a in anchors])]
        c = vectors[torch.tensor([t_index[t] for t in pool])]

        # What an anchor must never get as a negative: its positives, its given negatives, itself.
        exclude: dict[int, set[int]] = {}
        for row, (a, pos) in enumerate(zip(anchors_col, positives_col)):
            bad = exclude.setdefault(a_index[a], set())
            bad.add(c_index[pos])
            for column in given_negs:
                if column[row] in c_index:
                    bad.add(c_index[column[row]])
        for a, i in a_index.items():
            if a in c_index:
                exclude[i].add(c_index[a])
        pos_ids: dict[int, list[int]] = {}
        for a, pos in zip(anchors_col, positives_col):
            pos_ids.setdefault(a_index[a], []).append(c_index[pos])

        search_started = time.time()
        scores, indices = vec.topk_blocks(
            q, c, p.range_max, exclude={k: sorted(v) for k, v in exclude.items()}, chunk_size=p.chunk_size, log=ctx.log
        )
        # The hardest positive of each anchor sets the margin (as in sentence-transformers).
        flat_a = torch.tensor([a for a, ids in pos_ids.items() for _ in ids])
        flat_p = torch.tensor([i for ids in pos_ids.values() for i in ids])
        pair_scores = (q[flat_a] * c[flat_p]).sum(dim=1)
        pos_score = torch.full((len(anchors),), float("inf"))
        pos_score = pos_score.scatter_reduce(0, flat_a, pair_scores, reduce="amin")

        keep = indices >= 0
        skipped: dict[str, int] = {}

        def drop(mask: Any, reason: str) -> None:
            nonlocal keep
            hit = keep & mask
            if int(hit.sum()):
                skipped[reason] = int(hit.sum())
            keep = keep & ~mask

        ps = pos_score.unsqueeze(1)
        if p.absolute_margin is not None:
            drop(scores > ps - p.absolute_margin, "absolute_margin")
        if p.relative_margin is not None:
            drop(scores > ps - ps.abs() * p.relative_margin, "relative_margin")
        if p.max_score is not None:
            drop(scores > p.max_score, "max_score")
        if p.min_score is not None:
            drop(scores < p.min_score, "min_score")
        if p.cross_encoder:
            drop(self._cross_encoder_rejects(anchors, pool, pos_ids, indices, keep, ctx), "cross_encoder")

        # The rank window, as in sentence-transformers: skip the range_min best candidates left after the filters.
        keep = keep & (torch.cumsum(keep.int(), dim=1) > p.range_min)
        # Pick: the best-ranked kept candidates, or a seeded random choice among them; best first either way.
        if p.sampling == "top":
            order_key = torch.where(keep, -torch.arange(keep.shape[1], dtype=torch.float32).expand_as(scores), -float("inf"))
        else:
            gen = torch.Generator().manual_seed(ctx.seed)
            order_key = torch.where(keep, torch.rand(keep.shape, generator=gen), -float("inf"))
        n = min(p.num_negatives, keep.shape[1])
        key, pick = torch.topk(order_key, n, dim=1)
        picked_ok = torch.isfinite(key)
        picked_idx = torch.gather(indices, 1, pick)
        picked_scores = torch.gather(scores, 1, pick)
        picked_scores = torch.where(picked_ok, picked_scores, -float("inf"))
        resort = torch.argsort(picked_scores, dim=1, descending=True)
        picked_idx = torch.gather(picked_idx, 1, resort)
        picked_scores = torch.gather(picked_scores, 1, resort)
        found = torch.isfinite(picked_scores).sum(dim=1)
        search_s = time.time() - search_started

        columns, stats_neg = self._rows(ctx.shape, anchors_col, positives_col, given_negs, a_index, pool, picked_idx, picked_scores, found)
        rows_out = len(columns["anchor"])
        if rows_out == 0:
            raise DataError(
                f"hard-negatives: no anchor kept {p.num_negatives} negative(s) after the filters "
                f"(skipped: {skipped or 'none'}); widen range_max, lower range_min, or relax the margins/max_score"
            )
        full = int((found >= p.num_negatives).sum())
        ctx.stats.update(
            anchors=len(anchors),
            candidates=len(pool),
            anchors_with_negatives=full,
            anchors_without=len(anchors) - full,
            rows=rows_out,
            mean_positive_similarity=round(float(pair_scores.mean()), 4),
            mean_negative_similarity=None if stats_neg is None else round(stats_neg, 4),
            skipped_candidates=skipped,
            embeddings_cached=cached,
            precision=precision,
            model=p.model or "the base model",
            seconds={"embed": round(embed_s, 2), "search": round(search_s, 2)},
        )
        ctx.log(
            f"hard-negatives: {full}/{len(anchors)} anchors got {p.num_negatives} negative(s); mean similarity "
            f"positive {ctx.stats['mean_positive_similarity']}, negative {ctx.stats['mean_negative_similarity']}"
        )
        return DatasetDict({"train": Dataset.from_dict(columns)})

    def _rows(self, shape, anchors_col, positives_col, given_negs, a_index, pool, picked_idx, picked_scores, found):
        """Output rows: n-tuples (given negatives first, then the mined ones; rows short of num_negatives dropped) or
        triplets (one row per negative)."""
        import torch

        p = self.params
        idx = picked_idx.tolist()
        neg_scores = []
        if shape == "n-tuple":
            full = (found >= p.num_negatives).tolist()
            width = len(given_negs) + p.num_negatives
            columns: dict[str, list[str]] = {"anchor": [], "positive": [], **{f"negative_{i + 1}": [] for i in range(width)}}
            for row, (a, pos) in enumerate(zip(anchors_col, positives_col)):
                i = a_index[a]
                if not full[i]:
                    continue
                columns["anchor"].append(a)
                columns["positive"].append(pos)
                negs = [col[row] for col in given_negs] + [pool[j] for j in idx[i][: p.num_negatives]]
                for k, neg in enumerate(negs):
                    columns[f"negative_{k + 1}"].append(neg)
            kept = torch.tensor(full)
            if kept.any():
                neg_scores = picked_scores[kept][:, : p.num_negatives].flatten().tolist()
        else:  # triplet: one row per given negative and per mined negative
            columns = {"anchor": [], "positive": [], "negative": []}
            counts = found.tolist()
            for row, (a, pos) in enumerate(zip(anchors_col, positives_col)):
                i = a_index[a]
                negs = [col[row] for col in given_negs] + [pool[j] for j in idx[i][: counts[i]]]
                for neg in negs:
                    columns["anchor"].append(a)
                    columns["positive"].append(pos)
                    columns["negative"].append(neg)
            mask = torch.isfinite(picked_scores)
            neg_scores = picked_scores[mask].tolist()
        mean_neg = sum(neg_scores) / len(neg_scores) if neg_scores else None
        return columns, mean_neg

    def _cross_encoder_rejects(self, anchors, pool, pos_ids, indices, keep, ctx) -> Any:
        """True where the cross-encoder scores a kept candidate above ce_max_score or above the anchor's positive."""
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        from hubembed.errors import ModelLoadError

        p = self.params
        try:
            ce = CrossEncoder(p.cross_encoder)
        except Exception as err:  # noqa: BLE001
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
