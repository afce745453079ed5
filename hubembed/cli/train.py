"""`hubembed train`: resolve the run, check it, train, evaluate, write the card, and say what happened."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click


@click.command()
@click.option("--plugin", "loss", metavar="NAME", help="Loss plugin (mnr, cosine, softmax, ...); it brings default data and eval.")
@click.option("--model", metavar="ID|PATH", help="Base model (default sentence-transformers/all-MiniLM-L6-v2).")
@click.option("--data", "data", multiple=True, metavar="NAME|PATH", help="Data step (repeat for a chain: source, then transforms).")
@click.option("--eval", "eval_", multiple=True, metavar="NAME[:VALUE]", help="Evaluator (repeatable; 'none' for no evaluation).")
@click.option("--trainer", metavar="NAME", help="Trainer plugin (default full).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Run config YAML (e.g. an earlier run's hubembed_run.yaml).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any config value, e.g. loss.scale=30.")
@click.option("--output", type=click.Path(file_okay=False), help="Output folder (default runs/<loss>).")
@click.option("--epochs", type=float, help="Passes over the training data.")
@click.option("--max-steps", type=int, help="Stop after N optimizer steps.")
@click.option("--batch-size", type=int, help="Examples per step.")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), help="Training precision (auto: bf16 where fast).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in the output folder (only once the new one is complete).")
def train(loss, model, data, eval_, trainer, config_file, overrides, output, epochs, max_steps, batch_size, lr, seed, precision, overwrite) -> None:
    """Train an embedding model from plugins, evaluate it before and after, and write a model card.

    \b
    Examples:
      hubembed train --plugin mnr
      hubembed train --plugin cosine --data train.csv --set data.score_scale=5
      hubembed train --config runs/mnr/hubembed_run.yaml --output runs/mnr-again
    """
    from hubembed import config as cfgmod
    from hubembed import pipeline

    cfg = cfgmod.load(config_file) if config_file else cfgmod.RunConfig()
    flags = {
        "loss": cfgmod.Step(loss) if loss and (cfg.loss is None or loss != cfg.loss.name) else cfg.loss,
        "model": model or cfg.model,
        "trainer": cfgmod.Step(trainer) if trainer else cfg.trainer,
        "output": output or cfg.output,
        "data": tuple(cfgmod.data_step(d) for d in data) if data else cfg.data,
        "eval": cfg.eval if not eval_ else () if eval_ == ("none",) else tuple(cfgmod.eval_step(e) for e in eval_),
    }
    training = {k: v for k, v in dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, seed=seed, precision=precision).items() if v is not None}
    cfg = dataclasses.replace(cfg, **flags, training={**cfg.training, **training})
    cfg = cfgmod.apply_overrides(cfgmod.with_defaults(cfg), list(overrides))
    run = cfgmod.resolve(cfg)

    outcome = pipeline.train(run, overwrite=overwrite, log=lambda m: click.echo(m, err=True))
    _summary(outcome)


def _summary(outcome) -> None:
    from hubembed.pipeline import score_table

    out = outcome.output
    m = outcome.metrics
    click.echo("")
    click.secho(f"Done in {m['duration_s']:.0f} s ({m['train']['steps']} steps, {m['train']['samples_per_s']:.1f} samples/s).", bold=True)
    for row in score_table(m):
        if not row["main"] and row["task"] != "STSB":
            continue
        base = row["base"]
        delta = "" if base is None else f"  ({row['trained'] - base:+.4f})"
        before = "   -  " if base is None else f"{base:.4f}"
        click.echo(f"  {row['dataset_name']:<34} {row['metric']:<16} {before} -> {row['trained']:.4f}{delta}")
    click.echo(f"Model:  {out}/  (card: {out}/README.md, metrics: {out}/metrics.json)")
    click.echo(f"Again:  hubembed train --config {Path(out) / 'hubembed_run.yaml'} --overwrite")
