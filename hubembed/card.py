"""The model card: a pure context built from the run and its metrics, rendered through huggingface_hub's
ModelCard / ModelCardData / EvalResult with a template from the `cards/` folder (package `hubembed_cards`)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from hubembed.config import RUN_FILE

TEMPLATE = "model_card.md"
SBERT_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of EMNLP-IJCNLP", year = "2019", url = "https://arxiv.org/abs/1908.10084"
}"""


def context(run: dict[str, Any], metrics: dict[str, Any], model_name: str) -> dict[str, Any]:
    """Everything the template shows, as plain data (no I/O), so it is easy to test and to extend."""
    from hubembed.pipeline import score_table
    from hubembed.registry import registry

    steps = [("data", s) for s in run["data"]] + [("loss", run["loss"]), ("trainer", run["trainer"])]
    steps += [("eval", s) for s in run["eval"]]
    citations = [SBERT_CITATION]
    for kind, step in steps:
        cls = registry().load({"eval": "evaluator"}.get(kind, kind), step["name"])[1]
        if cls.citation and cls.citation.strip() not in citations:
            citations.append(cls.citation.strip())
    base = metrics["base_model"]
    data_by_name = {d["name"]: d for d in metrics["data"]}
    return {
        "model_name": model_name,
        "base_model": base,
        "loss": run["loss"],
        "trainer": run["trainer"],
        "data": [{**s, **data_by_name.get(s["name"], {})} for s in run["data"]],
        "evaluators": run["eval"],
        "training": run["training"],
        "train": metrics["train"],
        "scores": score_table(metrics),
        "hardware": metrics["hardware"],
        "precision": metrics["precision"],
        "duration_s": metrics["duration_s"],
        "versions": metrics["versions"],
        "run_yaml": (Path(run["output"]) / RUN_FILE).as_posix() if run.get("output") else RUN_FILE,
        "run_yaml_text": _yaml(run),
        "citations": citations,
        "tags": ["sentence-transformers", "sentence-similarity", "feature-extraction", "hubembed"]
        + [s["name"] for _, s in steps],
    }


def _yaml(run: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(run, sort_keys=False, allow_unicode=True).strip()


def eval_results(ctx: dict[str, Any]) -> list[Any]:
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type=row["task_type"],
            task_name=row["task_type"].replace("-", " ").title(),
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

    base_id = ctx["base_model"]["id"]
    data = ModelCardData(
        model_name=ctx["model_name"],
        base_model=base_id if "/" in base_id and not Path(base_id).exists() else None,
        datasets=sorted({d["stats"].get("hub_id") for d in ctx["data"] if d.get("stats", {}).get("hub_id")}) or None,
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=ctx["tags"],
        language="en",
        license="apache-2.0",
        eval_results=eval_results(ctx),
    )
    template = files("hubembed_cards") / TEMPLATE
    return ModelCard.from_template(data, template_str=template.read_text(encoding="utf-8"), **ctx)


def write(folder: Path, run: dict[str, Any], metrics: dict[str, Any]) -> Path:
    name = Path(run.get("output") or folder).name
    card = render(context(run, metrics, name))
    path = folder / "README.md"
    card.save(path)
    return path
