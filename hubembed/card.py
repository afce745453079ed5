"""The model card: a pure context built from the run and its metrics, rendered through huggingface_hub's
ModelCard / ModelCardData / EvalResult with a template from the `cards/` folder (package `hubembed_cards`).

Where the card's content comes from:

- `hubembed_run.yaml` (the run) and `metrics.json` (scores before/after, data sizes and fingerprints, hardware,
  versions, the trainer's log history): everything hubembed knows.
- sentence-transformers' own card data (`model.model_card_data`, filled by its trainer callbacks): the losses and
  their citations, the training-loss log, the per-column token statistics and examples of the training data, the
  trainer arguments that differ from the defaults, the architecture. `collect()` reads it once, while the trained
  model is in memory, and the pipeline stores it as `metrics.json["card"]`, so the card can be re-rendered later
  (`hubembed push`, `hubembed eval`) without the model. Nothing it already says is re-derived here.
- Two figures drawn into `assets/` (hubembed.plots): the training loss, and the trained model's cosine
  predictions against the gold scores of STS Benchmark validation.

`check()` validates a card locally (YAML, model-index, required fields) before anything is pushed.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable

from hubembed.config import RUN_FILE
from hubembed.errors import HubError

TEMPLATE = "model_card.md"
CARD_FILE = "README.md"
LICENSE = "apache-2.0"
LANGUAGE = "en"
SBERT_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of EMNLP-IJCNLP", year = "2019", url = "https://arxiv.org/abs/1908.10084"
}"""
REQUIRED_FIELDS = ("library_name", "pipeline_tag", "license", "language", "tags")
_BIB_KEY = re.compile(r"@\w+\s*\{\s*([^,\s]+)\s*,")


# -- collected while the trained model is in memory (called by the pipeline) -----------------------------------
def collect(model: Any, folder: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """What only the trained model can tell the card: sentence-transformers' card data, and the STSB validation
    predictions drawn as `assets/stsb_validation_scatter.png` in `folder`. JSON-safe; stored in metrics.json."""
    collected: dict[str, Any] = {"sentence_transformers": st_card_data(model)}
    try:
        collected["stsb_scatter"] = draw_stsb_scatter(model, Path(folder))
    except Exception as err:  # noqa: BLE001 - a figure must never cost the run; say why it is missing
        log(f"card: no STSB scatter plot ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})")
    return collected


def st_card_data(model: Any) -> dict[str, Any]:
    """The parts of sentence-transformers' model card data that hubembed's card shows (losses, citations, training
    logs, training-data statistics, non-default trainer arguments, architecture)."""
    data = getattr(model, "model_card_data", None)
    out: dict[str, Any] = {}
    if data is not None:
        out["citations"] = {name: text.strip() for name, text in (getattr(data, "citations", None) or {}).items()}
        out["losses"] = [t.split(":", 1)[1] for t in getattr(data, "tags", []) if t.startswith("loss:")]
        out["training_logs"] = [row for row in getattr(data, "training_logs", []) if "Training Loss" in row]
        out["train_datasets"] = [
            {
                "size": d.get("size"),
                "columns": [re.sub(r"</?code>", "", c) for c in d.get("columns", [])],
                "stats_table": d.get("stats_table"),
                "examples_table": d.get("examples_table"),
            }
            for d in getattr(data, "train_datasets", []) or []
        ]
        out["hyperparameters"] = dict(getattr(data, "non_default_hyperparameters", {}) or {})
    try:
        out["dimensions"] = int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())
        out["max_seq_length"] = int(model.max_seq_length)
        out["similarity"] = str(getattr(model, "similarity_fn_name", None) or "cosine")
        out["architecture"] = str(model)
    except Exception:  # noqa: BLE001 - a model without these attributes still gets a card
        pass
    return json.loads(json.dumps(out, default=str))


def stsb_predictions(model: Any, batch_size: int = 64) -> tuple[list[float], list[float]]:
    """Cosine similarity of each STS Benchmark validation pair under `model`, and the gold scores (0-5)."""
    from hubembed.bundled import read_stsb

    s1, s2, gold = read_stsb("dev")  # the same 1,500 pairs as sentence-transformers/stsb validation
    texts = list(dict.fromkeys(s1 + s2))
    emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_tensor=True)
    index = {t: i for i, t in enumerate(texts)}
    a = emb[[index[t] for t in s1]]
    b = emb[[index[t] for t in s2]]
    return [float(x) for x in (a * b).sum(dim=-1).float().cpu()], gold


def draw_stsb_scatter(model: Any, folder: Path) -> dict[str, Any]:
    from scipy.stats import pearsonr, spearmanr

    from hubembed import plots
    from hubembed.bundled import STSB

    predicted, gold = stsb_predictions(model)
    plots.stsb_scatter(predicted, gold, folder / plots.SCATTER_PNG)
    return {
        "file": plots.SCATTER_PNG,
        "pairs": len(gold),
        "dataset": f"{STSB['dev'].hub_id}@{STSB['dev'].revision} (dev)",
        "spearman_cosine": round(float(spearmanr(gold, predicted).statistic), 4),
        "pearson_cosine": round(float(pearsonr(gold, predicted).statistic), 4),
    }


# -- the context: plain data, no I/O --------------------------------------------------------------------------
def context(
    run: dict[str, Any], metrics: dict[str, Any], model_name: str, *, repo_id: str | None = None,
    figures: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, as plain data (no I/O besides plugin metadata), easy to test and extend."""
    from hubembed.pipeline import score_table

    extra_evals = metrics.get("extra_evals") or []
    steps = [("data", s) for s in run["data"]] + [("loss", run["loss"]), ("trainer", run["trainer"])]
    steps += [("evaluator", s) for s in [*run["eval"], *extra_evals]]
    plugin_meta = {step["name"]: _plugin_meta(kind, step["name"]) for kind, step in steps}
    collected = metrics.get("card") or {}
    st = collected.get("sentence_transformers") or {}
    base = metrics["base_model"]
    data_by_name = {d["name"]: d for d in metrics["data"]}
    scores = score_table(metrics)
    for row in scores:
        row["delta"] = None if row["base"] is None else row["trained"] - row["base"]
    headline = _headline(scores)
    base_hub_id = base["id"] if _is_hub_id(base["id"]) and base.get("source") != "local" else None
    st_losses = st.get("losses") or []
    return {
        "model_name": model_name,
        "repo_id": repo_id,
        "usage_id": repo_id or model_name,
        "base_model": {**base, "hub_id": base_hub_id},
        "loss": {**run["loss"], "summary": plugin_meta[run["loss"]["name"]]["summary"],
                 "stats": (metrics.get("loss") or {}).get("stats") or {}},
        "trainer": {**run["trainer"], "summary": plugin_meta[run["trainer"]["name"]]["summary"]},
        "data": [
            {**s, **data_by_name.get(s["name"], {}), "summary": plugin_meta[s["name"]]["summary"]} for s in run["data"]
        ],
        "evaluators": [{**s, "summary": plugin_meta[s["name"]]["summary"]} for s in [*run["eval"], *extra_evals]],
        "training": run["training"],
        "train": metrics["train"],
        "scores": scores,
        "headline": headline,
        "hardware": metrics["hardware"],
        "precision": metrics["precision"],
        "duration_s": metrics["duration_s"],
        "versions": metrics["versions"],
        "run_yaml_text": _yaml(run),
        "reproduce": f"hubembed train --config {RUN_FILE}",
        "citations": _citations(st.get("citations") or {}, [plugin_meta[s["name"]] for _, s in steps]),
        "st": st,
        "st_losses": st_losses,
        "figures": figures or {},
        "scatter": collected.get("stsb_scatter"),
        "tags": _unique(
            ["sentence-transformers", "sentence-similarity", "feature-extraction", "hubembed"]
            + [s["name"] for _, s in steps]
            + [f"loss:{name}" for name in st_losses]
        ),
        "datasets": sorted({d["stats"]["hub_id"] for d in metrics["data"] if (d.get("stats") or {}).get("hub_id")}),
    }


def _plugin_meta(kind: str, name: str) -> dict[str, Any]:
    """Summary and citation of a plugin; a plugin not installed here still gets a card (without them)."""
    from hubembed.errors import HubembedError
    from hubembed.registry import registry

    try:
        cls = registry().load(kind, name)[1]
    except HubembedError:
        return {"name": name, "summary": "", "citation": None}
    return {"name": name, "summary": cls.summary, "citation": (cls.citation or "").strip() or None}


def _is_hub_id(spec: str) -> bool:
    return spec.count("/") == 1 and not spec.startswith((".", "/", "~")) and not Path(spec).exists()


def _headline(scores: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The score the description quotes: STSB test Spearman, else the first main score."""
    for row in scores:
        if row["task"] == "STSB" and row["split"] == "test" and row["metric"] == "spearman_cosine":
            return row
    return next((row for row in scores if row.get("main")), scores[0] if scores else None)


def _bib_key(text: str) -> str:
    match = _BIB_KEY.search(text)
    return match.group(1).lower() if match else " ".join(text.split())


def _citations(st_citations: dict[str, str], plugins: list[dict[str, Any]]) -> list[dict[str, str]]:
    """sentence-transformers' citations (Sentence-BERT and each loss class) first, then every plugin's, each
    BibTeX entry once (a plugin citing SBERT again is not repeated): [{"title", "bibtex"}]."""
    seen: set[str] = set()
    grouped: dict[str, list[str]] = {}

    def add(title: str, text: str) -> None:
        for entry in re.split(r"\n(?=@)", text.strip()):  # a plugin may cite several papers
            key = _bib_key(entry)
            if entry.strip() and key not in seen:
                seen.add(key)
                grouped.setdefault(title, []).append(entry.strip())

    for title, text in st_citations.items():
        add(title, text)
    if not st_citations:
        add("Sentence Transformers", SBERT_CITATION)
    for meta in plugins:
        if meta["citation"]:
            add(meta["name"], meta["citation"])
    return [{"title": title, "bibtex": "\n\n".join(entries)} for title, entries in grouped.items()]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _yaml(run: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(run, sort_keys=False, allow_unicode=True).strip()


def eval_results(ctx: dict[str, Any]) -> list[Any]:
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type=row["task_type"],
            task_name=row["task_type"].replace("-", " ").title() if row["task"] == "STSB" else f"MTEB {row['task']}",
            dataset_type=row["dataset"],
            dataset_name=row["dataset_name"],
            dataset_split=row["split"],
            dataset_revision=row.get("revision"),
            metric_type=row["metric"],
            metric_name=row["metric"].replace("_", " ").title(),
            metric_value=round(float(row["trained"]), 4),
        )
        for row in ctx["scores"]
    ]


def render(ctx: dict[str, Any]) -> Any:
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(
        model_name=ctx["repo_id"] or ctx["model_name"],
        base_model=ctx["base_model"]["hub_id"],
        datasets=ctx["datasets"] or None,
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=ctx["tags"],
        language=LANGUAGE,
        license=LICENSE,
        eval_results=eval_results(ctx) or None,
    )
    template = files("hubembed_cards") / TEMPLATE
    return ModelCard.from_template(data, template_str=template.read_text(encoding="utf-8"), **ctx)


def figures(folder: Path, metrics: dict[str, Any]) -> dict[str, str]:
    """Draw the loss curve into `folder` (deterministic: the same log gives the same bytes) and list the figures
    present, as paths relative to the card."""
    from hubembed import plots

    found: dict[str, str] = {}
    if plots.loss_curve(metrics.get("train", {}).get("log_history") or [], folder / plots.LOSS_PNG) is not None:
        found["loss"] = plots.LOSS_PNG
    if (folder / plots.SCATTER_PNG).is_file():
        found["scatter"] = plots.SCATTER_PNG
    return found


def figures_present(folder: Path) -> dict[str, str]:
    """The figures already in `folder`, as paths relative to the card (none is drawn)."""
    from hubembed import plots

    named = {"loss": plots.LOSS_PNG, "scatter": plots.SCATTER_PNG}
    return {key: name for key, name in named.items() if (Path(folder) / name).is_file()}


def _text(folder: Path, run: dict[str, Any], metrics: dict[str, Any], repo_id: str | None, found: dict[str, str]) -> str:
    name = Path(run.get("output") or folder).name
    return str(render(context(run, metrics, name, repo_id=repo_id, figures=found)))


def write(folder: Path, run: dict[str, Any], metrics: dict[str, Any], *, repo_id: str | None = None) -> Path:
    """Render the card of the run in `folder` (with its figures) to `folder/README.md`; the usage snippet names
    `repo_id` when the model is (to be) pushed."""
    folder = Path(folder)
    text = _text(folder, run, metrics, repo_id, figures(folder, metrics))
    path = folder / CARD_FILE
    path.write_text(text, encoding="utf-8")  # checked by check() before any push, not here: a run is never lost to its card
    return path


def rewrite(folder: Path, *, repo_id: str | None = None) -> Path:
    """Re-render the card of an output folder from its `hubembed_run.yaml` and `metrics.json`."""
    return write(folder, *_saved_run(folder), repo_id=repo_id)


def rendered(folder: Path, *, repo_id: str | None = None) -> str:
    """The card rewrite() would write, as text, with nothing written: the figures already in `folder` are linked,
    none is drawn. A push renders its repo's card so, and the folder changes only once the push worked."""
    run, metrics = _saved_run(Path(folder))
    return _text(Path(folder), run, metrics, repo_id, figures_present(folder))


def _saved_run(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import yaml

    from hubembed.errors import ConfigError
    from hubembed.pipeline import METRICS_FILE

    folder = Path(folder)
    try:
        run = yaml.safe_load((folder / RUN_FILE).read_text(encoding="utf-8"))
        metrics = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as err:
        raise ConfigError(
            f"{folder} has no readable {RUN_FILE} and {METRICS_FILE} ({type(err).__name__}); pass the output folder "
            f"of a hubembed run, or push the folder as it is with --keep-card"
        ) from None
    return run, metrics


# -- validation ---------------------------------------------------------------------------------------------
def check(text: str) -> dict[str, Any]:
    """Validate a card locally, before any upload: the front matter is a YAML mapping, the model-index parses into
    eval results with numeric values, and a hubembed card has the fields the Hub uses. Returns the metadata."""
    import yaml
    from huggingface_hub import ModelCard

    def bad(why: str) -> HubError:
        return HubError(f"README.md has invalid metadata ({why}): fix the card's YAML front matter")

    if not text.lstrip("\ufeff").startswith("---"):
        raise bad("no YAML front matter")
    try:
        card = ModelCard(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise bad(f"not valid YAML{where}: {getattr(err, 'problem', None) or type(err).__name__}") from None
    except (ValueError, TypeError, KeyError) as err:
        raise bad(" ".join(str(err).split())[:200] or type(err).__name__) from None
    meta = card.data.to_dict()
    for result in card.data.eval_results or []:
        if isinstance(result.metric_value, bool) or not isinstance(result.metric_value, (int, float)):
            raise bad(f"model-index value {result.metric_value!r} of {result.metric_type} is not a number")
    if "hubembed" in (meta.get("tags") or []):
        missing = [f for f in REQUIRED_FIELDS if not meta.get(f)]
        if missing:
            raise bad(f"missing {', '.join(missing)}")
        if meta["library_name"] != "sentence-transformers":
            raise bad(f"library_name is {meta['library_name']!r}, not sentence-transformers")
    return meta
