"""`hubembed data build`: run a data chain alone (a source, then transforms) and save the dataset it builds, with
a generated dataset card; optionally push it to the Hub as a dataset repo.

The output folder:
  data/train-00000-of-00001.parquet   the rows, in the columns a loss reads (the Hub's dataset viewer reads it)
  README.md                           the dataset card (huggingface_hub DatasetCard): every step, its params and stats
  hubembed_data.yaml                  the resolved chain; `hubembed data build --config FILE` builds it again
  stats.json                          per step: pinned name, shape, examples, fingerprint, stats
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

from hubembed.cli.hub import access_options
from hubembed.cli.plugins import code_option

DATA_FILE = "hubembed_data.yaml"
STATS_FILE = "stats.json"

CARD_TEMPLATE = "dataset_card.md"  # in cards/ (the package hubembed_cards)


@click.group()
def data() -> None:
    """Run data steps on their own and save (or push) the dataset they build."""


@data.command("build")
@click.option("--data", "data_args", multiple=True, metavar="NAME|PATH", help="Data step (repeat: a source, then transforms).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A run config or hubembed_data.yaml: its data chain, model and seed.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a value: data.PARAM, data.N.PARAM, data.NAME.PARAM, model.")
@click.option("--model", metavar="ID|PATH", help="Model for steps that embed or label (default: all-MiniLM-L6-v2).")
@click.option("--plugin", "loss", metavar="NAME", help="Build the shape this loss trains on (as `hubembed train --plugin NAME` would).")
@click.option("--shape", metavar="SHAPE", help="Shape the last step gives (default: the first it produces).")
@click.option("--seed", type=int, help="Seed for sampling and shuffling (default 42).")
@click.option("--output", type=click.Path(file_okay=False), help="Output folder (default runs/data-<last step>).")
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset folder (only once the new one is complete).")
@click.option("--push", is_flag=True, help="Push the dataset folder to the Hub as a dataset repo.")
@click.option("--repo-id", metavar="ORG/NAME", help="Dataset repo to push to (default <your user>/<output folder name>).")
@click.option("--private", is_flag=True, help="Create the dataset repo private.")
@access_options
@code_option
def build(data_args, config_file, overrides, model, loss, shape, seed, output, overwrite, push, repo_id, private,
          endpoint, token_file, local_hub) -> None:
    """Build a dataset from data steps, write it as parquet with a dataset card, and optionally push it.

    \b
    Examples:
      hubembed data build --data nli --data hard-negatives --plugin mnr --output runs/nli-hn
      hubembed data build --data augsbert --set data.gold_limit=1000 --output runs/augsbert-data
      hubembed data build --config runs/nli-hn/hubembed_data.yaml --output runs/nli-hn-again
      hubembed data build --data nli --data hard-negatives --push --repo-id me/nli-hard-negatives
    """
    from hubembed import config as cfgmod
    from hubembed.errors import ConfigError

    if not push and (repo_id or private):
        raise ConfigError("--repo-id and --private only mean something with --push: add --push, or drop them")
    cfg, shape = _config(config_file, shape)
    cfg = _with_command_line(cfg, data_args, model, loss, seed, output)
    _check_overrides(overrides)
    cfg = cfgmod.apply_overrides(cfg, list(overrides))
    seed = int(cfg.training.get("seed", 42))
    steps = cfgmod.resolve_data(cfg.data)
    shapes, num_labels = _shapes(cfg, steps, loss, shape)
    out = _output_folder(cfg, steps, overwrite, push, repo_id)
    rows, report, seconds = _build_into(out, cfg.model, steps, shapes, seed, num_labels)
    _say_built(out, rows, shapes[-1], report, seconds)
    if push:
        _push(out, repo_id, private, endpoint, token_file, local_hub)


def _log(message: str) -> None:
    click.echo(message, err=True)


def _with_command_line(cfg: Any, data_args: tuple[str, ...], model: str | None, loss: str | None, seed: int | None,
                       output: str | None) -> Any:
    """The config with the command line's data steps, loss, model, seed and output on top; a loss alone gives the
    data chain it trains on by default."""
    from hubembed import config as cfgmod
    from hubembed.errors import ConfigError

    steps = tuple(cfgmod.data_step(d) for d in data_args) if data_args else cfg.data
    cfg = dataclasses.replace(
        cfg,
        loss=cfgmod.Step(loss) if loss else cfg.loss,
        data=steps,
        model=model or cfg.model,
        training={**cfg.training, **({"seed": seed} if seed is not None else {})},
        output=output or None,
    )
    if cfg.data is None and cfg.loss is not None:
        cfg = dataclasses.replace(cfg, data=cfgmod.with_defaults(cfg).data)
    if not cfg.data:
        raise ConfigError("no data steps: pass --data NAME|PATH (e.g. --data nli --data hard-negatives) or --config FILE")
    return cfg


def _check_overrides(overrides: tuple[str, ...]) -> None:
    from hubembed.errors import ConfigError

    for item in overrides:
        if not item.split("=", 1)[0].strip().startswith(("data", "model")):
            raise ConfigError(f"--set {item}: `hubembed data build` takes data.PARAM (or data.N.PARAM / data.NAME.PARAM) and model")


def _shapes(cfg: Any, steps: list, loss: str | None, shape: str | None) -> tuple[list[str], int | None]:
    """The shape each step gives (ending in what --plugin's loss trains on, or --shape) and the loss's label bound."""
    from hubembed import compat
    from hubembed import config as cfgmod
    from hubembed.errors import ConfigError

    if not loss:
        return compat.check_chain(steps, shape), None
    if shape is not None:
        raise ConfigError("give --plugin or --shape, not both: --plugin picks the shape its loss trains on")
    run = cfgmod.resolve(dataclasses.replace(cfg, eval=()))
    run.data = steps
    shapes = compat.check(run)
    return shapes, run.loss.plugin.num_labels()  # its label bound, checked as `hubembed train` does


def _output_folder(cfg: Any, steps: list, overwrite: bool, push: bool, repo_id: str | None) -> Path:
    """--output (default runs/data-<last step>), checked before the build, as is the repo id a push will use."""
    from hubembed import pipeline

    out = Path(cfg.output) if cfg.output else Path("runs") / f"data-{steps[-1].info.short}"
    pipeline.check_output(out, overwrite)
    if push:  # a bad repo id (given, or the folder name it defaults to) fails before the build
        from hubembed import hub

        hub.check_repo_id(repo_id or out.name, fix="pass --repo-id org/name")
    return out


def _build_into(out: Path, model: str, steps: list, shapes: list[str], seed: int,
                num_labels: int | None) -> tuple[int, list, float]:
    """Build the chain in a staging folder that becomes `out` only once complete (nothing is left on a failure);
    return the train rows, the per-step report and the seconds it took."""
    from hubembed import models, pipeline

    stage = pipeline.staging_dir(out)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    started = time.time()
    try:
        base = models.resolve_model(model, _log)
        result, report = pipeline.build_chain(steps, shapes, seed, base.load_from, _log, num_labels)
        written = _write(stage, result, shapes[-1], steps, report, model, seed, started)
        pipeline._publish(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return written["rows"], report, time.time() - started


def _say_built(out: Path, rows: int, shape: str, report: list, seconds: float) -> None:
    click.echo("")
    click.secho(f"Built {rows} {shape} rows in {seconds:.0f} s.", bold=True)
    for row in report:
        click.echo(f"  {row['name']:<28} {row['shape']:<10} {row['examples']:>7} examples  fingerprint {row['fingerprint']}")
    click.echo(f"Dataset: {out}/  (card: {out}/README.md, rows: {out}/data/)")
    click.echo(f"Again:   hubembed data build --config {out / DATA_FILE} --output {out} --overwrite")


def _config(config_file: str | None, shape: str | None) -> tuple[Any, str | None]:
    """RunConfig from a run config or hubembed_data.yaml (whose `shape` key is ours)."""

    from hubembed import config as cfgmod

    if not config_file:
        return cfgmod.RunConfig(), shape
    path = Path(config_file)
    raw = cfgmod.read_run_file(path)
    saved_shape = raw.pop("shape", None)
    return cfgmod.from_dict(raw, str(path)), shape or saved_shape


def _write(stage: Path, result: Any, shape: str, steps: list, report: list, model: str, seed: int, started: float) -> dict:
    import yaml

    from hubembed import __version__, hardware
    from hubembed.types import shape_columns

    (stage / "data").mkdir()
    rows = 0
    columns: list[str] = []
    for split in result:
        ds = result[split]
        columns = shape_columns(shape, ds.column_names)
        ds.select_columns(columns).to_parquet(str(stage / "data" / f"{split}-00000-of-00001.parquet"))
        rows += len(ds) if split == "train" else 0
    chain = {
        "hubembed_version": __version__,
        "model": model,
        "data": [s.to_dict() for s in steps],
        "training": {"seed": seed},
        "shape": shape,
    }
    data_yaml = yaml.safe_dump(chain, sort_keys=False, allow_unicode=True)
    (stage / DATA_FILE).write_text(data_yaml, encoding="utf-8")
    (stage / STATS_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    ctx = {
        "pretty_name": None,
        "rows": rows,
        "shape": shape,
        "columns": columns,
        "steps": [{**r, "short": s.info.short, "params": s.to_dict()["params"]} for s, r in zip(steps, report)],
        "model": model,
        "seed": seed,
        "data_yaml": data_yaml.strip(),
        "duration_s": round(time.time() - started, 1),
        "hardware": hardware.describe(),
        "citations": _citations(steps),
        "splits": list(result),
    }
    render_card(ctx, stage.name.lstrip(".").removesuffix(".partial")).save(stage / "README.md")
    return {"rows": rows}


def _citations(steps: list) -> list[str]:
    found: list[str] = []
    for s in steps:
        text = (type(s.plugin).citation or "").strip()
        if text and text not in found:
            found.append(text)
    return found


def render_card(ctx: dict[str, Any], name: str, repo_id: str | None = None) -> Any:
    """The dataset card: YAML metadata (configs -> the parquet files, tags, size, source datasets) and the chain."""
    from huggingface_hub import DatasetCard, DatasetCardData

    rows = ctx["rows"]
    size = "n<1K" if rows < 1_000 else "1K<n<10K" if rows < 10_000 else "10K<n<100K" if rows < 100_000 else "100K<n<1M"
    sources = sorted({r["stats"]["hub_id"] for r in ctx["steps"] if isinstance(r.get("stats"), dict) and r["stats"].get("hub_id")})
    card_data = DatasetCardData(
        language="en",
        license="other",
        size_categories=size,
        source_datasets=sources or None,
        task_categories=["sentence-similarity"],
        tags=["sentence-transformers", "hubembed", ctx["shape"], *[s["short"] for s in ctx["steps"]]],
        pretty_name=name,
        configs=[{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}-*"} for s in ctx["splits"]]}],
    )
    template = files("hubembed_cards") / CARD_TEMPLATE
    return DatasetCard.from_template(
        card_data, template_str=template.read_text(encoding="utf-8"),
        **{**ctx, "pretty_name": name, **({"repo_id": repo_id} if repo_id else {})},
    )


def _push(out: Path, repo_id: str | None, private: bool, endpoint: str | None, token_file: str | None, local: bool) -> None:
    from hubembed import hub
    from hubembed.cli.hub import target

    orgs = (repo_id.split("/")[0],) if repo_id and "/" in repo_id else ()
    with target(endpoint, token_file, local, orgs) as where:
        hub.require_token(where.token)
        repo_id = hub.default_repo_id(repo_id, out.name, token=where.token, endpoint=where.endpoint)
        card = _card_naming_repo(out, repo_id)
        result = hub.push_folder(out, repo_id, token=where.token, endpoint=where.endpoint, private=private,
                                 repo_type="dataset", readme=card)
        hub.write_atomically(out / "README.md", card)  # pushed: the local card is now what the repo shows
        note = " on LocalHub" if where.local else ""
        if result.changed:
            click.echo(f"Pushed {out}/ to dataset {result.repo_id}{note}: {result.url} (commit {result.commit_oid[:8]})")
        else:
            click.echo(f"Nothing to push: dataset {result.repo_id}{note} already holds this (commit {result.commit_oid[:8]}).")


def _card_naming_repo(out: Path, repo_id: str) -> str:
    """The card with the repo id in its usage snippet, in memory: a failed push leaves the folder as it was."""
    text = (out / "README.md").read_text(encoding="utf-8")
    return text.replace(f'load_dataset("{out.name}"', f'load_dataset("{repo_id}"', 1)
