"""Big MNR batches at fixed memory: peak memory and samples/s of MNR vs cached MNR (GradCache) for batches of 32 / 256
/ 1024 triplets (run by hand, not in CI).

Each configuration runs in a fresh process through hubembed's own pieces (config -> data chain -> the `full`
trainer plugin with the `mnr` or `cached-mnr` loss plugin), NLI triplets from ../shared/data/nli, `--steps` optimizer
steps, precision `auto` (bf16 on AMX CPUs). Peak memory is the process's peak resident set size while training
(VmHWM, reset just before the first step), minus the resident size at that moment: what training itself adds.

The default base is all-MiniLM-L6-v2 cut to its first 2 layers (`--model weak`): on 2 CPU cores a step of 1024
triplets of the full 6-layer model takes minutes. `--model minilm` uses the full model.

    python benchmarks/big_batches.py --steps 3 --out benchmarks/results/big_batches.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NLI = REPO.parent / "shared" / "data" / "nli"
BATCHES = (32, 256, 1024)


def weak_model(folder: Path) -> str:
    """all-MiniLM-L6-v2 with its first 2 transformer layers (STSB dev ~0.65, ~7x faster)."""
    from sentence_transformers import SentenceTransformer

    from hubembed.models import _pypi_copy

    model = SentenceTransformer(_pypi_copy(), device="cpu")
    bert = model[0].model
    bert.encoder.layer = bert.encoder.layer[:2]
    bert.config.num_hidden_layers = 2
    model.save(str(folder), create_model_card=False)
    return str(folder)


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def one(model_path: str, batch: int, mini: int, steps: int) -> dict:
    """One configuration, in this process: train `steps` steps and measure."""
    import torch
    from sentence_transformers import SentenceTransformer

    from hubembed import compat
    from hubembed import config as cfgmod
    from hubembed.pipeline import build_data
    from hubembed.types import TrainingParams, TrainJob

    loss = cfgmod.Step("cached-mnr", {"mini_batch_size": mini}) if mini else cfgmod.Step("mnr")
    cfg = cfgmod.RunConfig(loss=loss, data=(cfgmod.Step("nli", {"source": str(NLI), "limit": batch * steps}),))
    run = cfgmod.resolve(cfg)
    rows, _, _ = build_data(run, compat.check(run), model_path, log=lambda m: None)
    model = SentenceTransformer(model_path, device="cpu")
    training = TrainingParams(max_steps=steps, batch_size=batch, save_steps=0, logging_steps=steps)
    with tempfile.TemporaryDirectory() as tmp:
        job = TrainJob(model=model, loss=run.loss.plugin, train_dataset=rows, training=training, output_dir=Path(tmp), log=lambda m: None)
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = _kib("VmRSS")
        result = run.trainer.plugin.train(job)
        peak = _kib("VmHWM")
    return {
        "batch": batch,
        "mini_batch": mini or None,
        "loss": run.loss.info.name,
        "steps": result.steps,
        "samples_per_s": round(result.samples_per_s, 1),
        "peak_rss_mib": round(peak / 1024),
        "training_adds_mib": round((peak - before) / 1024),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--mini-batch-size", type=int, default=32)
    parser.add_argument("--model", choices=["weak", "minilm"], default="weak")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "big_batches.json"))
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="batch sizes to run (others are kept from --out)")
    parser.add_argument("--one", nargs=3, type=int, metavar=("BATCH", "MINI", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.model_path, *args.one)))
        return

    from hubembed.models import _pypi_copy

    batches = [int(b) for b in args.batches.split(",")]
    kept = []
    if Path(args.out).exists():  # rows of the batch sizes not run now
        kept = [r for r in json.loads(Path(args.out).read_text())["rows"] if r["batch"] not in batches]
    with tempfile.TemporaryDirectory(prefix="big-batches-") as tmp:
        model_path = weak_model(Path(tmp) / "weak") if args.model == "weak" else _pypi_copy()
        rows = list(kept)
        for batch in batches:
            for mini in (0, args.mini_batch_size):
                projected = _projected_mib(rows, batch, mini)
                if projected is not None and projected > 0.7 * _available_mib():
                    row = {"batch": batch, "mini_batch": mini or None, "loss": "hubembed.mnr.v1", "skipped":
                           f"projected {projected / 1024:.0f} GiB (linear in the batch) > 70% of the {_available_mib() / 1024:.0f} GiB available"}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    continue
                proc = subprocess.run(
                    [sys.executable, __file__, "--model-path", model_path, "--one", str(batch), str(mini), str(args.steps)],
                    env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True,
                )
                if proc.returncode != 0:
                    raise SystemExit(f"batch {batch} mini {mini} failed:\n{proc.stderr[-3000:]}")
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(json.dumps(row), flush=True)
    rows.sort(key=lambda r: (r["batch"], bool(r["mini_batch"])))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"model": args.model, "steps": args.steps, "rows": rows}, indent=2))
    print("\n| batch | loss | peak RSS | training adds | samples/s |\n|---|---|---|---|---|")
    for r in rows:
        name = f"cached MNR (mini-batch {r['mini_batch']})" if r["mini_batch"] else "MNR"
        if "skipped" in r:
            print(f"| {r['batch']} | {name} | not run: {r['skipped']} | | |")
        else:
            print(f"| {r['batch']} | {name} | {r['peak_rss_mib']:,} MiB | {r['training_adds_mib']:,} MiB | {r['samples_per_s']} |")


def _available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def _projected_mib(rows: list[dict], batch: int, mini: int) -> float | None:
    """Plain MNR's memory grows linearly with the batch: project from the largest measured smaller batch."""
    if mini:
        return None
    done = [r for r in rows if not r["mini_batch"] and "skipped" not in r and r["batch"] < batch]
    if not done:
        return None
    last = max(done, key=lambda r: r["batch"])
    return last["peak_rss_mib"] + last["training_adds_mib"] * (batch / last["batch"] - 1)


if __name__ == "__main__":
    main()
