"""hubembed's default MNR fine-tune vs the plain sentence-transformers script (run by hand, not in CI).

The same run both ways: all-MiniLM-L6-v2, the bundled NLI triplets (3,083 rows, written once to parquet; the plain
script reads them in the order hubembed's reader shuffles them into for the same seed), batch 32, `--steps`
optimizer steps, lr 2e-5, warmup 0.1, weight decay 0.01. Repetition r runs every arm with seed 42 + r, so the
repetitions measure speed several times and quality on several seeds (one seed's STSB moves by ~0.001 with the
order of the batches, as much as any lever does). Arms, alternated in each repetition (A B A B ...), each in a
fresh process:

  plain          benchmarks/plain_st_mnr.py: the docs' script, fp32, random no-duplicates batches
  hubembed       `hubembed train --plugin mnr` defaults (bf16 autocast where the CPU has it, length-grouped batches)
  only-bf16      hubembed with training.group_by_length=false   (what bf16 alone buys)
  only-grouping  hubembed with --precision fp32                  (what length grouping alone buys)

Reported per arm: training-loop samples/s (the HF Trainer's own train_samples_per_second in both; median over
repetitions), peak RSS of the process, STSB dev/test Spearman after training (per seed and their mean); the ratio
to plain; model FLOP utilisation against a bf16 matmul peak measured here. Evaluation speed is
benchmarks/eval_speed.py.

    python benchmarks/train_throughput.py --steps 60 --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
HUBEMBED_ARMS = {
    "hubembed": [],
    "only-bf16": ["--set", "training.group_by_length=false"],
    "only-grouping": ["--precision", "fp32"],
}


def run_child(cmd: list[str]) -> int:
    """Run `cmd`; return its peak RSS in MB (its own, via wait4, not the benchmark's)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    stderr = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed:\n{stderr[-3000:]}")
    return round(usage.ru_maxrss / 1024)


def plain_arm(model: str, data: Path, steps: int, seed: int, work: Path) -> dict:
    out = work / "plain.json"
    rss = run_child([sys.executable, str(REPO / "benchmarks" / "plain_st_mnr.py"), model, str(data),
                     "--steps", str(steps), "--seed", str(seed), "--output", str(work / "plain-run"),
                     "--out", str(out)])
    result = json.loads(out.read_text())
    result["peak_rss_mb"] = rss
    return result


def hubembed_arm(extra: list[str], data: Path, steps: int, seed: int, work: Path) -> dict:
    out = work / "hubembed-run"
    rss = run_child([sys.executable, "-m", "hubembed", "train", "--plugin", "mnr", "--data", str(data),
                     "--eval", "stsb", "--max-steps", str(steps), "--seed", str(seed), "--save-steps", "0",
                     "--output", str(out), "--overwrite", *extra])
    metrics = json.loads((out / "metrics.json").read_text())
    main = {s["split"]: round(s["value"], 4) for s in metrics["scores"]["trained"] if s["main"]}
    return {"samples_per_s": metrics["train"]["samples_per_s"], "train_runtime_s": metrics["train"]["runtime_s"],
            "stsb_dev": main["validation"], "stsb_test": main["test"], "peak_rss_mb": rss,
            "precision": metrics["precision"]}


def matmul_peak_tflops() -> float:
    """Best of a few 2048^3 bf16 matmuls: the peak the MFU is measured against."""
    import torch

    a, b = torch.randn(2048, 2048, dtype=torch.bfloat16), torch.randn(2048, 2048, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(10):
            a @ b
        best = max(best, 10 * 2 * 2048**3 / (time.perf_counter() - started) / 1e12)
    return best


def flops_per_sample(model: str, data: Path) -> float:
    """Training FLOPs of one triplet on its real (unpadded) tokens: 6 x non-embedding weights x tokens, plus the
    attention scores (12 x layers x hidden x length^2 per text, forward and backward)."""
    from datasets import Dataset
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    ds = Dataset.from_parquet(str(data))
    h, layers, inner = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    weights = layers * (4 * h * h + 2 * h * inner)
    total = 0.0
    for column in ("anchor", "positive", "negative"):
        for ids in tokenizer(list(ds[column]), truncation=True, max_length=256)["input_ids"]:
            total += 6 * weights * len(ids) + 12 * layers * h * len(ids) ** 2
    return total / len(ds)


def table(summary: dict) -> str:
    seeds = summary["seeds"]
    rows = ["| arm | samples/s (median) | x plain | MFU | peak RSS MB | STSB dev (mean) | STSB test (mean) |",
            "|---|---|---|---|---|---|---|"]
    for arm, s in summary["arms"].items():
        rows.append(f"| {arm} | {s['samples_per_s']:.1f} | {s['x_plain']:.2f} | {s['mfu']:.1%} | {s['peak_rss_mb']} "
                    f"| {s['stsb_dev']:.4f} | {s['stsb_test']:.4f} |")
    rows += ["", "| seed | " + " | ".join(summary["arms"]) + " |", "|---" * (len(summary["arms"]) + 1) + "|"]
    for i, seed in enumerate(seeds):
        cells = [f"{runs[i]['stsb_dev']:.4f} / {runs[i]['stsb_test']:.4f}" for runs in summary["runs"].values()]
        rows.append(f"| {seed} | " + " | ".join(cells) + " |")
    cells = [f"{s['stsb_dev']:.4f} / {s['stsb_test']:.4f}" for s in summary["arms"].values()]
    rows.append("| mean | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--reps", type=int, default=3, help="repetitions; repetition r uses seed 42 + r")
    parser.add_argument("--arms", default="plain,hubembed,only-bf16,only-grouping")
    parser.add_argument("--out", default=str(RESULTS / "train_throughput.json"))
    args = parser.parse_args()

    from hubembed import hardware
    from hubembed.models import DEFAULT_MODEL, resolve_model

    model = resolve_model(DEFAULT_MODEL, print).load_from
    work = Path(tempfile.mkdtemp(prefix="hubembed-throughput-"))
    data_dir = work / "nli"
    subprocess.run([sys.executable, "-m", "hubembed", "data", "build", "--data", "nli", "--plugin", "mnr",
                    "--output", str(data_dir)], check=True, env=ENV, stdout=subprocess.DEVNULL)
    data = data_dir / "data" / "train-00000-of-00001.parquet"
    # hubembed's file reader shuffles rows with the run's seed; the plain script gets them in that same order, so
    # both arms see the same batches before any lever changes them
    seeds = [42 + rep for rep in range(args.reps)]
    arms = args.arms.split(",")
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    for seed in seeds:
        ordered_dir = work / f"nli-ordered-{seed}"
        subprocess.run([sys.executable, "-m", "hubembed", "data", "build", "--data", str(data), "--plugin", "mnr",
                        "--seed", str(seed), "--output", str(ordered_dir)], check=True, env=ENV,
                       stdout=subprocess.DEVNULL)
        ordered = ordered_dir / "data" / "train-00000-of-00001.parquet"
        for arm in arms:
            result = plain_arm(model, ordered, args.steps, seed, work) if arm == "plain" else \
                hubembed_arm(HUBEMBED_ARMS[arm], data, args.steps, seed, work)
            runs[arm].append({"seed": seed, **result})
            print(f"seed {seed} {arm}: {result['samples_per_s']:.1f} samples/s, STSB dev/test "
                  f"{result['stsb_dev']}/{result['stsb_test']}", flush=True)

    peak = matmul_peak_tflops()
    per_sample = flops_per_sample(model, data)
    plain = statistics.median(r["samples_per_s"] for r in runs["plain"]) if "plain" in runs else None
    summary = {"hardware": hardware.describe(), "model": DEFAULT_MODEL, "steps": args.steps, "batch_size": 32,
               "reps": args.reps, "seeds": seeds, "bf16_matmul_peak_tflops": round(peak, 3),
               "model_gflops_per_sample": round(per_sample / 1e9, 2), "arms": {}, "runs": runs}
    for arm, results in runs.items():
        sps = statistics.median(r["samples_per_s"] for r in results)
        summary["arms"][arm] = {
            "samples_per_s": sps, "x_plain": sps / plain if plain else float("nan"),
            "mfu": sps * per_sample / (peak * 1e12),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "stsb_dev": round(statistics.mean(r["stsb_dev"] for r in results), 4),
            "stsb_test": round(statistics.mean(r["stsb_test"] for r in results), 4),
        }
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    Path(args.out).with_suffix(".md").write_text(table(summary) + "\n")
    print(table(summary))


if __name__ == "__main__":
    main()
