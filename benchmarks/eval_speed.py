"""Evaluation speed: hubembed's evaluators vs the libraries' defaults (run by hand, not in CI).

One model (all-MiniLM-L6-v2), the same data and the same scoring code in every arm (hubembed's stsb and mteb
evaluator plugins: sentence-transformers' EmbeddingSimilarityEvaluator and `mteb.evaluate`); the arms differ only
in how texts are encoded:

  defaults       fp32, batch 32: what EmbeddingSimilarityEvaluator(...) and mteb.evaluate(model, task) do untouched
  hubembed       what `hubembed train` and `hubembed eval` do: autocast in the resolved precision (bf16 where the
                 CPU runs it fast), batch 32
  bf16-batch-64  hubembed with batch 64 (tried: faster on short STSB pairs, slower on SciFact's long documents)

Length sorting is on in every arm: sentence-transformers' encode() sorts each call's texts by length, and mteb hands
it all texts of a split in one call. Tasks: STSB dev+test (1,500 + 1,379 pairs) and MTEB SciFact (5,183 documents,
300 queries, read from --scifact in BEIR layout; skipped when absent). Arms alternate; best of --reps per arm.

    python benchmarks/eval_speed.py --reps 2 --scifact ../shared/data/scifact
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--scifact", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--out", default=str(RESULTS / "eval_speed.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from sentence_transformers import SentenceTransformer

    from hubembed import hardware
    from hubembed.models import DEFAULT_MODEL, resolve_model
    from hubembed.registry import registry
    from hubembed.types import EvalContext

    model = SentenceTransformer(resolve_model(DEFAULT_MODEL, print).load_from)
    fast = hardware.resolve_precision("auto")
    arms = {"defaults": ("fp32", 32), "hubembed": (fast, EvalContext.batch_size), "bf16-batch-64": (fast, 64)}
    def evaluator(name: str, **params: str):
        _, cls = registry().load("evaluator", name)
        return cls(cls.Params(**params))

    tasks = {"STSB dev+test": evaluator("stsb", source="bundled")}
    if Path(args.scifact).is_dir():
        tasks["MTEB SciFact"] = evaluator("mteb", tasks="SciFact", data_dir=args.scifact)
    else:
        print(f"{args.scifact} not found: SciFact skipped")

    results: dict[str, dict] = {}
    for task_name, plugin in tasks.items():
        seconds: dict[str, list[float]] = {arm: [] for arm in arms}
        scores: dict[str, dict[str, float]] = {}
        for _ in range(args.reps):
            for arm, (precision, batch_size) in arms.items():
                ctx = EvalContext(seed=42, cache_dir=Path(tempfile.mkdtemp()), batch_size=batch_size,
                                  precision=precision, log=lambda _: None)
                started = time.perf_counter()
                with hardware.autocast(precision):
                    found = plugin.evaluate(model, ctx)
                seconds[arm].append(time.perf_counter() - started)
                scores[arm] = {f"{s.split} {s.metric}": round(s.value, 4) for s in found if s.main}
                print(f"{task_name} {arm}: {seconds[arm][-1]:.1f} s {scores[arm]}", flush=True)
        best = {arm: round(min(t), 2) for arm, t in seconds.items()}
        results[task_name] = {"seconds": best, "scores": scores,
                              "speedup": {arm: round(best["defaults"] / s, 2) for arm, s in best.items()}}

    summary = {"hardware": hardware.describe(), "model": DEFAULT_MODEL, "reps": args.reps,
               "arms": {arm: {"precision": p, "batch_size": b} for arm, (p, b) in arms.items()}, "tasks": results}
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    Path(args.out).with_suffix(".md").write_text(table(summary) + "\n")
    print(table(summary))


def table(summary: dict) -> str:
    arms = summary["arms"]
    rows = ["| task | " + " | ".join(f"{arm} ({a['precision']}, batch {a['batch_size']})" for arm, a in arms.items())
            + " |", "|---" * (len(arms) + 1) + "|"]
    for task_name, r in summary["tasks"].items():
        cells = []
        for arm in arms:
            main = ", ".join(f"{v:.4f}" for v in r["scores"][arm].values())
            cells.append(f"{r['seconds'][arm]:.1f} s ({r['speedup'][arm]:.2f}x; {main})")
        rows.append(f"| {task_name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
