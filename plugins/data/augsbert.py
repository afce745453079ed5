"""Augmented SBERT: a cross-encoder trained on a small gold set labels new pairs (silver) for the bi-encoder.

Stages, each cached under `<cache_dir>/augsbert/` and reported on the card:
1. gold: scored pairs (default: the STS Benchmark train split, scores 0-5 scaled to 0-1);
2. cross-encoder: sentence-transformers' CrossEncoder, initialised from the base model folder (no cross-encoder
   weights are needed), trained on gold with CrossEncoderTrainer and BinaryCrossEntropyLoss (soft 0-1 labels);
3. candidate pairs: every unlabeled sentence with its top-k nearest neighbours under the bi-encoder (semantic
   search, as the book recommends over random pairs, which are nearly all dissimilar);
4. silver: those pairs scored by the cross-encoder. The output is gold + silver (or either alone) as pair-score rows
   for the cosine loss.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hubembed.api import (
    NLI_SAMPLE,
    STSB,
    BuildContext,
    ConfigError,
    DataBuilder,
    DataError,
    read_rows,
    read_sentences,
    read_stsb,
)
from hubembed_plugins.data import _vectors as vec

MIN_GOLD = 32  # fewer scored pairs cannot train a cross-encoder head into anything but noise


@dataclass(frozen=True)
class Params:
    gold: str = field(default="stsb", metadata={"help": "stsb (bundled STS Benchmark train, 5,749 pairs) or a scored-pairs file (sentence1, sentence2, score)"})
    gold_score_scale: float = field(default=1.0, metadata={"help": "divide a gold file's scores by this (5 for 0-5 scores); stsb is scaled already"})
    gold_limit: int | None = field(default=None, metadata={"help": "use at most this many gold pairs (shuffled)"})
    unlabeled: str = field(default="nli", metadata={"help": "sentences to pair: nli (the bundled NLI sample), a text file (one per line) or a data file with unlabeled_column"})
    unlabeled_column: str = field(default="text", metadata={"help": "text column of an unlabeled data file"})
    unlabeled_limit: int | None = field(default=None, metadata={"help": "use at most this many unlabeled sentences (shuffled)"})
    top_k: int = field(default=3, metadata={"help": "neighbours per unlabeled sentence that become candidate pairs"})
    silver_limit: int | None = field(default=None, metadata={"help": "keep at most this many silver pairs (shuffled)"})
    mode: Literal["gold+silver", "gold", "silver"] = field(default="gold+silver", metadata={"help": "what to output: gold+silver, gold only, or silver only"})
    cross_encoder: str = field(default="", metadata={"help": "an already trained cross-encoder folder; empty: train one from the base model on gold"})
    bi_encoder: str = field(default="", metadata={"help": "model that finds neighbours (path or Hub id); empty: the run's base model"})
    ce_epochs: float = field(default=1.0, metadata={"help": "cross-encoder training epochs over gold"})
    ce_max_steps: int = field(default=-1, metadata={"help": "stop cross-encoder training after this many steps (-1: all epochs)"})
    ce_batch_size: int = field(default=16, metadata={"help": "cross-encoder training batch size"})
    ce_lr: float = field(default=2e-5, metadata={"help": "cross-encoder peak learning rate"})
    batch_size: int = field(default=64, metadata={"help": "batch size for embedding and cross-encoder scoring"})
    precision: Literal["auto", "fp32", "bf16"] = field(default="auto", metadata={"help": "auto (bf16 where fast), fp32 or bf16 for training and scoring"})


class AugSBERTBuilder(DataBuilder):
    summary = "Augmented SBERT: cross-encoder trained on gold pairs labels top-k neighbour pairs (silver); gold + silver scored pairs"
    Params = Params
    produces = ("pair-score",)
    citation = """@inproceedings{thakur-2021-augsbert,
    title = "Augmented {SBERT}: Data Augmentation Method for Improving Bi-Encoders for Pairwise Sentence Scoring Tasks",
    author = "Thakur, Nandan and Reimers, Nils and Daxenberger, Johannes and Gurevych, Iryna",
    booktitle = "Proceedings of NAACL-HLT", year = "2021", url = "https://arxiv.org/abs/2010.08240"
}"""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        p = self.params
        if p.top_k < 1:
            raise ConfigError(f"augsbert: top_k must be at least 1, got {p.top_k}")
        if p.gold_score_scale <= 0:
            raise ConfigError("augsbert: gold_score_scale must be positive")
        if p.ce_batch_size < 1 or p.batch_size < 1:
            raise ConfigError("augsbert: batch sizes must be at least 1")

    @classmethod
    def check_params(cls, workdir: Path) -> dict[str, Any]:
        return {"gold_limit": 48, "unlabeled_limit": 24, "top_k": 2, "ce_max_steps": 2, "ce_batch_size": 8, "precision": "fp32"}

    def build(self, ctx: BuildContext, upstream: Any) -> Any:
        from datasets import Dataset, DatasetDict

        p = self.params
        rng = random.Random(ctx.seed)
        gold, gold_origin = self._gold(rng)
        stats: dict[str, Any] = {"gold": len(gold), "gold_source": gold_origin}
        if p.gold == "stsb":
            stats["hub_id"] = STSB["train"].hub_id
        rows = list(gold) if p.mode != "silver" else []
        if p.mode != "gold":
            silver = self._silver(ctx, gold, rng, stats)
            rows += silver
            stats["silver"] = len(silver)
            stats["silver_scores"] = _distribution([s for _, _, s in silver])
        stats["gold_scores"] = _distribution([s for _, _, s in gold])
        rng.shuffle(rows)
        stats["examples"] = len(rows)
        ctx.stats.update(stats)
        ctx.log(f"augsbert: {len(rows)} pairs ({p.mode}: gold {len(gold)}, silver {stats.get('silver', 0)})")
        return DatasetDict({"train": Dataset.from_dict({
            "sentence1": [r[0] for r in rows], "sentence2": [r[1] for r in rows], "score": [float(r[2]) for r in rows],
        })})

    # --- stage 1: gold -------------------------------------------------------------------------------------------

    def _gold(self, rng: random.Random) -> tuple[list[tuple[str, str, float]], str]:
        p = self.params
        if p.gold == "stsb":
            s1, s2, scores = read_stsb("train")
            gold = [(a, b, round(s / 5.0, 4)) for a, b, s in zip(s1, s2, scores)]
            origin = f"{STSB['train'].hub_id}@{STSB['train'].revision} (bundled STS Benchmark train)"
        else:
            if not Path(p.gold).exists():
                raise DataError(f"augsbert: gold file {p.gold} does not exist; give a scored-pairs file or gold=stsb")
            rows = read_rows(p.gold)
            missing = [c for c in ("sentence1", "sentence2", "score") if c not in rows[0]]
            if missing:
                raise DataError(f"augsbert: {p.gold} lacks column(s) {', '.join(missing)}; a gold file has sentence1, sentence2, score")
            gold = []
            for r in rows:
                if r["sentence1"] and r["sentence2"] and r["score"] not in (None, ""):
                    gold.append((str(r["sentence1"]), str(r["sentence2"]), round(float(r["score"]) / p.gold_score_scale, 4)))
            high = max((s for _, _, s in gold), default=0.0)
            if high > 1.0 or min((s for _, _, s in gold), default=0.0) < 0.0:
                raise DataError(f"augsbert: gold scores reach {high:g}; scale them to 0-1 with --set data.gold_score_scale={high:g}")
            origin = p.gold
        rng.shuffle(gold)
        if p.gold_limit is not None:
            gold = gold[: p.gold_limit]
        if len(gold) < MIN_GOLD:
            raise DataError(
                f"augsbert: the gold set has {len(gold)} scored pairs, too few to train a cross-encoder; give at least "
                f"{MIN_GOLD} (raise gold_limit or use a larger gold file)"
            )
        return gold, origin

    # --- stages 2-4: cross-encoder, candidate pairs, silver labels -------------------------------------------------

    def _silver(self, ctx: BuildContext, gold, rng: random.Random, stats: dict[str, Any]) -> list[tuple[str, str, float]]:
        p = self.params
        root = Path(ctx.cache_dir) / "augsbert"
        precision = vec.resolve_precision(p.precision)
        gold_fp = _digest(json.dumps(gold))
        ce_path, ce_key, ce_info = self._cross_encoder(ctx, gold, gold_fp, precision, root)
        stats["cross_encoder"] = ce_info

        sentences, origin = self._unlabeled(rng)
        stats["unlabeled"] = len(sentences)
        stats["unlabeled_source"] = origin
        bi_path = p.bi_encoder or ctx.model
        bi_key = vec.model_fingerprint(bi_path)
        pairs_file = root / f"pairs-{_digest(f'{bi_key}|{precision}|{vec.texts_fingerprint(sentences)}|{p.top_k}')}.json"
        if pairs_file.exists():
            pairs = [tuple(x) for x in json.loads(pairs_file.read_text(encoding="utf-8"))]
            stats["pairs_cached"] = True
            ctx.log(f"  {len(pairs)} candidate pairs from the cache")
        else:
            pairs = self._neighbour_pairs(ctx, sentences, bi_path, bi_key, precision)
            vec.write_json_atomic(pairs_file, pairs)
            stats["pairs_cached"] = False
        known = {(a, b) for a, b, _ in gold} | {(b, a) for a, b, _ in gold}
        pairs = [pr for pr in pairs if pr not in known]
        rng.shuffle(pairs)
        if p.silver_limit is not None:
            pairs = pairs[: p.silver_limit]
        if not pairs:
            raise DataError("augsbert: no candidate pairs left; give more unlabeled sentences (unlabeled=FILE) or raise top_k")

        labels_file = root / f"silver-{_digest(ce_key + '|' + json.dumps(pairs))}.json"
        if labels_file.exists():
            scores = json.loads(labels_file.read_text(encoding="utf-8"))
            stats["silver_cached"] = True
            ctx.log(f"  {len(scores)} silver labels from the cache")
        else:
            scores = self._label(ctx, ce_path, pairs, precision)
            vec.write_json_atomic(labels_file, scores)
            stats["silver_cached"] = False
        return [(a, b, float(s)) for (a, b), s in zip(pairs, scores)]

    def _cross_encoder(self, ctx: BuildContext, gold, gold_fp: str, precision: str, root: Path) -> tuple[str, str, dict]:
        """The cross-encoder folder: the given one, or one trained on gold (cached by base model + gold + params)."""
        p = self.params
        if p.cross_encoder:
            if not Path(p.cross_encoder).is_dir():
                raise DataError(f"augsbert: cross_encoder {p.cross_encoder} is not a folder; give a trained cross-encoder or leave it empty")
            key = vec.model_fingerprint(p.cross_encoder)
            return p.cross_encoder, key, {"given": p.cross_encoder}
        base_key = vec.model_fingerprint(ctx.model)
        key = _digest(f"{base_key}|{gold_fp}|{p.ce_epochs}|{p.ce_max_steps}|{p.ce_batch_size}|{p.ce_lr}|{precision}|{ctx.seed}")
        folder = root / f"cross-encoder-{key}"
        info_file = folder / "hubembed_cross_encoder.json"
        if info_file.exists():
            info = json.loads(info_file.read_text(encoding="utf-8"))
            ctx.log(f"  cross-encoder from the cache ({folder.name})")
            return str(folder), key, {**info, "cached": True}
        info = self._train_cross_encoder(ctx, gold, folder, precision)
        return str(folder), key, {**info, "cached": False}

    def _train_cross_encoder(self, ctx: BuildContext, gold, folder: Path, precision: str) -> dict[str, Any]:
        import os
        import shutil

        import torch
        from datasets import Dataset
        from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
        from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

        p = self.params
        ctx.log(f"  training a cross-encoder from {Path(ctx.model).name or ctx.model} on {len(gold)} gold pairs...")
        started = time.time()
        model = CrossEncoder(str(ctx.model), num_labels=1)
        stage = folder.with_name(f".{folder.name}.{os.getpid()}.partial")
        shutil.rmtree(stage, ignore_errors=True)
        args = CrossEncoderTrainingArguments(
            output_dir=str(stage / "checkpoints"),
            num_train_epochs=p.ce_epochs,
            max_steps=p.ce_max_steps,
            per_device_train_batch_size=p.ce_batch_size,
            learning_rate=p.ce_lr,
            warmup_steps=0.1,  # a ratio in transformers 5
            seed=ctx.seed,
            logging_steps=max(1, len(gold) // p.ce_batch_size // 10),
            save_strategy="no",
            report_to="none",
            bf16=precision == "bf16",
            use_cpu=not torch.cuda.is_available(),
            disable_tqdm=True,
        )
        train = Dataset.from_dict({
            "sentence1": [g[0] for g in gold], "sentence2": [g[1] for g in gold], "label": [float(g[2]) for g in gold],
        })
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=train, loss=BinaryCrossEntropyLoss(model))
        output = trainer.train()
        try:
            model.save(str(stage))
            shutil.rmtree(stage / "checkpoints", ignore_errors=True)
            info = {
                "base": Path(ctx.model).name or str(ctx.model),
                "gold_pairs": len(gold),
                "steps": int(output.global_step),
                "train_loss": round(float(output.training_loss), 4),
                "seconds": round(time.time() - started, 1),
                "loss": "BinaryCrossEntropyLoss",
            }
            (stage / "hubembed_cross_encoder.json").write_text(json.dumps(info), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            stage.rename(folder)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        ctx.log(f"  cross-encoder trained: {info['steps']} steps, loss {info['train_loss']}, {info['seconds']} s")
        return info

    def _unlabeled(self, rng: random.Random) -> tuple[list[str], str]:
        p = self.params
        if p.unlabeled == "nli":
            from hubembed.api import nli_sample_sentences

            texts = nli_sample_sentences()
            origin = f"{NLI_SAMPLE.hub_id}@{NLI_SAMPLE.revision} (bundled sample sentences)"
        else:
            if not Path(p.unlabeled).exists():
                raise DataError(f"augsbert: unlabeled file {p.unlabeled} does not exist; give a text file or unlabeled=nli")
            texts = read_sentences(p.unlabeled, p.unlabeled_column)
            origin = p.unlabeled
        sentences = sorted({t for t in texts if t})
        rng.shuffle(sentences)
        if p.unlabeled_limit is not None:
            sentences = sentences[: p.unlabeled_limit]
        if len(sentences) <= p.top_k:
            raise DataError(
                f"augsbert: {len(sentences)} unlabeled sentences cannot give {p.top_k} neighbours each; give more sentences or lower top_k"
            )
        return sentences, origin

    def _neighbour_pairs(self, ctx: BuildContext, sentences: list[str], bi_path: str, bi_key: str, precision: str) -> list[tuple[str, str]]:
        """Each sentence with its top_k most similar other sentences; unordered pairs counted once."""
        model = vec.load_model(bi_path)
        vectors, _ = vec.embed(
            model, sentences, model_key=bi_key, cache_dir=ctx.cache_dir, batch_size=self.params.batch_size,
            precision=precision, log=ctx.log, what="unlabeled sentences",
        )
        _, indices = vec.topk_blocks(vectors, vectors, self.params.top_k, exclude={i: [i] for i in range(len(sentences))})
        seen: set[tuple[int, int]] = set()
        pairs = []
        for i, row in enumerate(indices.tolist()):
            for j in row:
                if j < 0 or sentences[i] == sentences[j]:
                    continue
                key = (min(i, j), max(i, j))
                if key not in seen:
                    seen.add(key)
                    pairs.append((sentences[i], sentences[j]))
        ctx.log(f"  {len(pairs)} candidate pairs from top-{self.params.top_k} neighbours of {len(sentences)} sentences")
        return pairs

    def _label(self, ctx: BuildContext, ce_path: str, pairs: list[tuple[str, str]], precision: str) -> list[float]:
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder

        ctx.log(f"  labelling {len(pairs)} silver pairs with the cross-encoder...")
        started = time.time()
        model = CrossEncoder(ce_path)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16" and model.device.type == "cpu"):
            scores = model.predict(pairs, batch_size=self.params.batch_size, show_progress_bar=False)
        ctx.log(f"  labelled in {time.time() - started:.1f} s")
        return [round(float(s), 4) for s in scores]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _distribution(scores: list[float]) -> dict[str, Any]:
    """Mean and a five-bucket histogram of 0-1 scores, for the card."""
    if not scores:
        return {}
    buckets = [0] * 5
    for s in scores:
        buckets[min(int(s * 5), 4)] += 1
    return {
        "mean": round(sum(scores) / len(scores), 4),
        "histogram_0-1_by_0.2": buckets,
    }
