"""The model card, rendered from the run (`hubembed_run.yaml`) and its record (`metrics.json`, hubembed.record)
through huggingface_hub's ModelCard / ModelCardData / EvalResult with a template from the `cards/` folder (package
`hubembed_cards`).

`context()` and `render()` are pure: the run and the record in, the card out (plain data, no I/O), so a card can be
re-rendered anywhere (`hubembed push`, `hubembed eval`) without the model or its plugins. What only the trained
model could say was put into the record while it was in memory: sentence-transformers' own card data
(hubembed.st_card) and each evaluator's figures (`Evaluator.figures`). `write()` adds the I/O: the training-loss
figure, the figures present in the folder, the README.md file.

`check()` validates a card locally (YAML, model-index, required fields) before anything is pushed.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from hubembed.config import RUN_FILE, read_run_file
from hubembed.errors import HubError
from hubembed.plots import HELD_OUT_PNG, LOSS_PNG
from hubembed.record import METRICS_FILE, RunRecord, plugin_facts
from hubembed.record import load as load_record
from hubembed.types import SBERT_CITATION

TEMPLATE = "model_card.md"
CARD_FILE = "README.md"
LICENSE = "apache-2.0"
LANGUAGE = "en"
REQUIRED_FIELDS = ("library_name", "pipeline_tag", "license", "language", "tags")
_BIB_KEY = re.compile(r"@\w+\s*\{\s*([^,\s]+)\s*,")


# -- the context: plain data, no I/O --------------------------------------------------------------------------
def context(
    run: dict[str, Any], record: RunRecord, model_name: str, *, repo_id: str | None = None,
    present: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Everything the template shows, as plain data. `present`: the figure files (relative to the card) that
    exist next to it; figures not present are left out."""
    extra_evals = [dict(e) for e in record.extra_evals]
    steps = _steps(run, record)
    meta = {step["name"]: record.plugins.get(step["name"]) or NO_FACTS for _, step in steps}
    st = record.model_card_data
    data_by_name = {d.name: d for d in record.data}
    scores = [row.to_dict() for row in record.scores.table()]
    lead = record.scores.headline_row()
    base = record.base_model
    base_hub_id = base.id if _is_hub_id(base.id) and base.source != "local" else None
    st_losses = st.get("losses") or []
    return {
        "model_name": model_name,
        "repo_id": repo_id,
        "usage_id": repo_id or model_name,
        "base_model": {"id": base.id, "source": base.source, "revision": base.revision, "hub_id": base_hub_id},
        "loss": {**run["loss"], "summary": meta[run["loss"]["name"]]["summary"], "stats": record.loss.get("stats") or {}},
        "trainer": {**run["trainer"], "summary": meta[run["trainer"]["name"]]["summary"]},
        "data": [{**s, **_report(data_by_name.get(s["name"])), "summary": meta[s["name"]]["summary"]} for s in run["data"]],
        "evaluators": [{**s, "summary": meta[s["name"]]["summary"]} for s in [*run["eval"], *extra_evals]],
        "training": run["training"],
        "train": _report(record.train),
        "scores": scores,
        "headline": lead.to_dict() if lead else None,
        "hardware": record.hardware,
        "precision": record.precision,
        "duration_s": record.duration_s,
        "versions": record.versions,
        "run_yaml_text": _yaml(run),
        "reproduce": f"hubembed train --config {RUN_FILE}",
        "citations": _citations(st.get("citations") or {}, [meta[s["name"]] | {"name": s["name"]} for _, s in steps]),
        "st": st,
        "st_losses": st_losses,
        "figures": {key: name for key, name in (("loss", LOSS_PNG), ("held_out", HELD_OUT_PNG)) if name in present},
        "held_out": record.held_out,
        "gate": record.gate,
        "eval_figures": [f for f in record.figures.values() if f.get("file") in present],
        "tags": _unique(
            ["sentence-transformers", "sentence-similarity", "feature-extraction", "hubembed"]
            + [s["name"] for _, s in steps]
            + [f"loss:{name}" for name in st_losses]
        ),
        "datasets": sorted({d.stats["hub_id"] for d in record.data if (d.stats or {}).get("hub_id")}),
    }


def _report(value: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(value) if value is not None else {}


NO_FACTS = {"summary": "", "citation": None}  # a plugin neither the record nor this machine knows: its row, bare


def _steps(run: dict[str, Any], record: RunRecord) -> list[tuple[str, dict[str, Any]]]:
    """(kind, step) of every plugin the card names: the run's, and the evaluators `hubembed eval` added."""
    steps = [("data", s) for s in run["data"]] + [("loss", run["loss"]), ("trainer", run["trainer"])]
    return steps + [("evaluator", s) for s in [*run["eval"], *record.extra_evals]]


def with_installed_plugins(run: dict[str, Any], record: RunRecord) -> RunRecord:
    """A record older than `plugins` in the run record, given the summaries and citations of the plugins installed
    here (a plugin not installed keeps none)."""
    from hubembed.errors import HubembedError
    from hubembed.registry import registry

    found = {}
    for kind, step in _steps(run, record):
        if step["name"] in record.plugins:
            continue
        try:
            found[step["name"]] = plugin_facts(registry().load(kind, step["name"])[1])
        except HubembedError:  # not installed here: the card shows its name and version without the summary
            continue
    return record.with_plugins(found) if found else record


def _is_hub_id(spec: str) -> bool:
    return spec.count("/") == 1 and not spec.startswith((".", "/", "~"))


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
            task_name=_task_name(row),
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


def _task_name(row: dict[str, Any]) -> str:
    """The model-index task name: the evaluator's own, else the task type as words ("Semantic Similarity")."""
    return row.get("task_name") or row["task_type"].replace("-", " ").title()


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


# -- I/O: figures, files ------------------------------------------------------------------------------------
def present_figures(folder: Path, record: RunRecord) -> set[str]:
    """The figure files the card may link: the loss curve and the evaluators' figures that exist in `folder`."""
    wanted = [LOSS_PNG, HELD_OUT_PNG, *(f.get("file") for f in record.figures.values())]
    return {name for name in wanted if name and (Path(folder) / name).is_file()}


def text(folder: Path, run: dict[str, Any], record: RunRecord, repo_id: str | None = None) -> str:
    name = Path(run.get("output") or folder).name
    return str(render(context(run, record, name, repo_id=repo_id, present=present_figures(folder, record))))


def write(folder: Path, run: dict[str, Any], record: RunRecord, *, repo_id: str | None = None) -> Path:
    """Draw the loss curve into `folder` (the same log gives the same bytes), render the card with the figures
    present there and write `folder/README.md`; the usage snippet names `repo_id` when the model is (to be) pushed."""
    from hubembed import plots

    folder = Path(folder)
    plots.loss_curve(list(record.train.log_history), folder / LOSS_PNG)
    if record.train.eval_metric:
        plots.held_out_curve(list(record.train.log_history), record.train.eval_metric, record.train.kept_step, folder / HELD_OUT_PNG)
    path = folder / CARD_FILE
    path.write_text(text(folder, run, record, repo_id), encoding="utf-8")  # checked by check() before any push
    return path


def rendered(folder: Path, *, repo_id: str | None = None) -> str:
    """The card write() would write for the run in `folder`, as text, with nothing written or drawn. A push renders its repo's card so,
    and the folder changes only once the push worked."""
    return text(Path(folder), *saved_run(Path(folder)), repo_id)


def saved_run(folder: Path) -> tuple[dict[str, Any], RunRecord]:
    """The run file and the record of an output folder; one line naming what cannot be read."""
    from hubembed.errors import ConfigError, HubembedError

    folder = Path(folder)
    try:
        run = read_run_file(folder / RUN_FILE)
        return run, with_installed_plugins(run, load_record(folder))
    except HubembedError as err:
        raise ConfigError(
            f"{folder} has no readable {RUN_FILE} and {METRICS_FILE} ({err}); pass the output folder "
            f"of a hubembed run, or push the folder as it is with --keep-card"
        ) from None


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
