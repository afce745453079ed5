"""In-domain evaluation on real data (run by hand, not in CI): what `hubembed train` reports when a user brings
their own data — the held-out score before and after, the general benchmarks beside it, the step kept, and what
the evaluations during training cost.

Runs, each one real `hubembed train --plugin mnr` with all-MiniLM-L6-v2 (the PyPI copy, offline), defaults
otherwise (1 epoch, the held-out split cut by hubembed, ten evaluations, best step kept):

  snli-dev   ../shared/data/nli/snli_1.0_dev.csv (the README's example)
  nli-all    every NLI file of ../shared/data/nli (MNLI matched/mismatched dev, SNLI dev/test)
  scifact    SciFact's train qrels as (claim, abstract) pairs, built from ../shared/data/scifact into a temporary
             folder (CC BY-NC: read from there, never written into the project); general benchmark MTEB SciFact
             test (the 300 test claims, none of which are in the train qrels), offline from ../shared/data

    python benchmarks/in_domain.py                       # all three; ~30 min on 2 cores
    python benchmarks/in_domain.py --runs snli-dev --out /tmp/in-domain

Writes <out>/in_domain.json and <out>/in_domain.md (the table the README shows).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RUNS = ("snli-dev", "nli-all", "scifact")


def scifact_pairs(folder: Path) -> Path:
    """(claim, title + abstract) for every train qrel, as a pairs CSV in `folder` (outside the project)."""
    corpus = {}
    with gzip.open(SHARED / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            corpus[doc["_id"]] = f"{doc.get('title', '')}. {doc['text']}".strip(". ")
    queries = {}
    with open(SHARED / "scifact" / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
    path = folder / "scifact-train-pairs.csv"
    with open(SHARED / "scifact" / "qrels" / "train.tsv", encoding="utf-8") as f, open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["anchor", "positive"])
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row.get("score", 1)) > 0 and row["query-id"] in queries and row["corpus-id"] in corpus:
                writer.writerow([queries[row["query-id"]], corpus[row["corpus-id"]]])
    return path


def arguments(run: str, tmp: Path) -> list[str]:
    if run == "snli-dev":
        return ["--data", str(SHARED / "nli" / "snli_1.0_dev.csv")]
    if run == "nli-all":
        return ["--data", str(SHARED / "nli")]
    return ["--data", str(scifact_pairs(tmp)), "--eval", "in-domain", "--eval", "mteb:SciFact",
            "--set", f"eval.mteb.data_dir={SHARED}"]


def train(run: str, tmp: Path, extra: list[str]) -> dict:
    out = tmp / run
    command = [sys.executable, "-m", "hubembed", "train", "--plugin", "mnr", *arguments(run, tmp), "--output", str(out), *extra]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    record = json.loads((out / "metrics.json").read_text())
    train_ = record["train"]
    rows = {r["key"]: r for r in _rows(record)}
    return {
        "run": run, "held_out": record["held_out"], "training_rows": record["data"][0]["examples"],
        "steps": train_["steps"], "kept_step": train_["kept_step"], "runtime_s": train_["runtime_s"],
        "eval_s": train_["eval_s"], "eval_share": round(train_["eval_s"] / train_["runtime_s"], 3),
        "samples_per_s": train_["samples_per_s"], "duration_s": record["duration_s"], "hardware": record["hardware"],
        "scores": rows, "command": " ".join(["hubembed", *command[3:]]),
    }


def _rows(record: dict) -> list[dict]:
    base = {(s["task"], s["split"], s["metric"]): s["value"] for s in record["scores"]["base"]}
    wanted = {"ndcg_at_10", "spearman_cosine", "cosine_accuracy"}
    return [{"key": f"{s['dataset_name']} {s['split']} {s['metric']}", "base": base.get((s["task"], s["split"], s["metric"])),
             "trained": s["value"]} for s in record["scores"]["trained"] if s["metric"] in wanted]


def table(results: list[dict]) -> str:
    lines = ["| run | training rows | held out | score | base | trained | change |", "|---|---:|---:|---|---:|---:|---:|"]
    for r in results:
        held = r["held_out"]
        for i, (key, s) in enumerate(r["scores"].items()):
            change = "" if s["base"] is None else f"{s['trained'] - s['base']:+.4f}"
            first = (f"{r['run']} | {r['training_rows']} | {held['rows']} ({held['anchors']} anchors)" if i == 0 else " | | ")
            lines.append(f"| {first} | {key} | {s['base']:.4f} | {s['trained']:.4f} | {change} |")
    lines += ["", "| run | steps | step kept | training s | evaluation during training s (share) | samples/s |",
              "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['run']} | {r['steps']} | {r['kept_step']} | {r['runtime_s']:.0f} | {r['eval_s']:.1f} ({r['eval_share']:.1%}) | "
              f"{r['samples_per_s']:.1f} |" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("extra", nargs="*", help="more `hubembed train` arguments, after --")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="hubembed-in-domain-") as tmp:
        for run in args.runs.split(","):
            results.append(train(run, Path(tmp), args.extra))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    (out / "in_domain.json").write_text(json.dumps({"cpu": cpu, "results": results}, indent=2))
    (out / "in_domain.md").write_text(f"CPU: {cpu}, {os.cpu_count()} cores\n\n{table(results)}\n")
    print(table(results))


if __name__ == "__main__":
    main()
