"""The baseline of benchmarks/train_throughput.py: the MNR fine-tune a user writes from the book and the
sentence-transformers docs, with the library's defaults (fp32, random no-duplicates batches). Not hubembed code.

    python benchmarks/plain_st_mnr.py MODEL TRIPLETS.parquet --steps 60 --out result.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from hubembed.bundled import read_stsb  # the same STSB pairs hubembed evaluates on (offline copy)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", default="plain-st-mnr")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    model = SentenceTransformer(args.model)
    train_dataset = Dataset.from_parquet(args.data)
    loss = MultipleNegativesRankingLoss(model)
    # hubembed's hyperparameters (lr, warmup, weight decay, seed), so that only the speed levers differ
    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.output, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=2e-5, warmup_steps=0.1, weight_decay=0.01, seed=args.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", logging_steps=10, report_to="none",
    )
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=train_dataset, loss=loss)
    output = trainer.train()

    scores, eval_s = {}, 0.0
    for split in ("dev", "test"):
        s1, s2, gold = read_stsb(split)
        evaluator = EmbeddingSimilarityEvaluator(s1, s2, [g / 5.0 for g in gold], name=f"sts-{split}")
        started = time.perf_counter()
        scores[split] = round(float(evaluator(model)[f"sts-{split}_spearman_cosine"]), 4)
        eval_s += time.perf_counter() - started
    result = {
        "samples_per_s": float(output.metrics["train_samples_per_second"]),
        "train_runtime_s": float(output.metrics["train_runtime"]),
        "stsb_dev": scores["dev"], "stsb_test": scores["test"],
        "eval_s": round(eval_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
