"""`hubembed train`: resolve the run, check it, train, evaluate, write the card, and say what happened."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from hubembed.cli.hub import push_options
from hubembed.cli.plugins import code_option
from hubembed.errors import UnfinishedRunError
from hubembed.hardware import PRECISIONS


@click.command()
@click.option("--plugin", "loss", metavar="NAME", help="Loss plugin (mnr, cosine, softmax, ...); it brings default data and eval.")
@click.option("--model", metavar="ID|PATH", help="Base model (default sentence-transformers/all-MiniLM-L6-v2).")
@click.option("--data", "data", multiple=True, metavar="NAME|PATH", help="Data step (repeat for a chain: source, then transforms).")
@click.option("--eval", "eval_", multiple=True, metavar="NAME[:VALUE]", help="Evaluator (repeatable; 'none' for no evaluation).")
@click.option("--trainer", metavar="NAME", help="Trainer plugin (default full).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Run config YAML (e.g. an earlier run's hubembed_run.yaml).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any config value, e.g. loss.scale=30.")
@click.option("--output", type=click.Path(), help="Output folder (default runs/<loss>).")
@click.option("--epochs", type=float, help="Passes over the training data.")
@click.option("--max-steps", type=int, help="Stop after N optimizer steps.")
@click.option("--batch-size", type=int, help="Examples per step.")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--precision", type=click.Choice(PRECISIONS), help="Training precision (auto: bf16 where fast).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in the output folder (only once the new one has trained).")
@click.option("--resume", type=click.Path(), metavar="OUTPUT_DIR", help="Continue the interrupted run of OUTPUT_DIR from its last checkpoint.")
@click.option("--save-steps", type=int, help="Checkpoint every N steps (0: never), so --resume can continue.")
@click.option("--save-total-limit", type=int, metavar="K", help="Keep only the last K checkpoints.")
@click.option("--num-processes", type=int, metavar="N", help="Train on N processes (accelerate launch; gloo ranks on a CPU).")
@click.option("--accelerate-config", type=click.Path(dir_okay=False), metavar="FILE", help="accelerate config for multi-node, FSDP or DeepSpeed runs.")
@click.option("--mini-batch-size", type=int, metavar="N", help="Cached MNR (GradCache): embed N texts at a time, so big batches fit in memory.")
@click.option("--merge", is_flag=True, help="With --trainer lora: also write merged/, the base model with the adapter folded in.")
@push_options
@code_option
def train(loss, model, data, eval_, trainer, config_file, overrides, output, epochs, max_steps, batch_size, lr, seed, precision, overwrite, resume, save_steps, save_total_limit, num_processes, accelerate_config, mini_batch_size, merge, **push_flags) -> None:
    """Train an embedding model from plugins, evaluate it before and after, and write a model card.

    \b
    Examples:
      hubembed train --plugin mnr
      hubembed train --plugin cosine --data train.csv --set data.score_scale=5
      hubembed train --config runs/mnr/hubembed_run.yaml --output runs/mnr-again
      hubembed train --plugin mnr --push --repo-id my-org/minilm-nli
      hubembed train --plugin mnr --trainer lora --merge
      hubembed train --plugin mnr --num-processes 2
      hubembed train --plugin mnr --batch-size 1024 --mini-batch-size 32
      hubembed train --resume runs/mnr
    """
    from hubembed import config as cfgmod
    from hubembed import pipeline

    from hubembed import launch

    if resume:  # the interrupted run's own config, unless --config says it again
        stage, _ = pipeline.resumable(Path(resume))
        output = _same_output(output, resume)
    cfg = cfgmod.load(config_file) if config_file else cfgmod.load(stage / cfgmod.RUN_FILE) if resume else cfgmod.RunConfig()
    flags = {
        "loss": cfgmod.Step(loss) if loss and (cfg.loss is None or loss != cfg.loss.name) else cfg.loss,
        "model": model or cfg.model,
        "trainer": cfgmod.Step(trainer) if trainer else cfg.trainer,
        "output": output or cfg.output,
        "data": tuple(cfgmod.data_step(d) for d in data) if data else cfg.data,
        "eval": cfg.eval if not eval_ else () if eval_ == ("none",) else tuple(cfgmod.eval_step(e) for e in eval_),
    }
    training = {k: v for k, v in dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, seed=seed, precision=precision, save_steps=save_steps, save_total_limit=save_total_limit).items() if v is not None}
    cfg = dataclasses.replace(cfg, **flags, training={**cfg.training, **training})
    if mini_batch_size is not None:
        cfg = _cached_loss(cfg, mini_batch_size)
    if merge:
        cfg = _merge(cfg)
    cfg = cfgmod.apply_overrides(cfgmod.with_defaults(cfg), list(overrides))
    run = cfgmod.resolve(cfg)

    from hubembed.cli.hub import preflight, push_or_explain, push_request

    push = push_request(push_flags)  # bad push flags fail now, not after training
    if push is not None:
        preflight(push, Path(run.output or pipeline.default_output(run)))
    if resume:
        pipeline.check_same_run(run, stage)
        num_processes, accelerate_config = _same_launch(stage, num_processes, accelerate_config)
    if launch.launched():  # a rank started by the launcher below: train, and leave the talking to the launcher
        _train_rank(pipeline, run, overwrite, bool(resume))
        return
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    if num_processes is not None or accelerate_config is not None:
        launch.check(num_processes, accelerate_config)
    try:
        if launch.wanted(num_processes, accelerate_config):
            outcome = pipeline.train_launched(
                run, num_processes=num_processes, accelerate_config=accelerate_config, overwrite=overwrite, resume=bool(resume), log=log
            )
        else:
            outcome = pipeline.train(run, overwrite=overwrite, resume=bool(resume), log=log)
    except (UnfinishedRunError, launch.LaunchedRunError) as err:  # the model is saved; the push was not made
        if push is None or getattr(err, "kind", type(err).__name__) != "UnfinishedRunError":
            raise
        raise UnfinishedRunError(f"{err}; then push it with `{push.retry_command(Path(run.output), None)}`") from err
    _summary(outcome)
    if push is not None and launch.is_main_process():  # saved locally first; only rank 0 of a multi-process run pushes
        push_or_explain(outcome.output, push)


def _train_rank(pipeline, run, overwrite: bool, resume: bool) -> None:
    """One rank of a launched run: only rank 0 logs; a user error goes back to the launcher, which prints it once."""
    from hubembed import launch
    from hubembed.errors import HubembedError

    log = (lambda m: click.echo(m, err=True)) if launch.is_main_process() else (lambda m: None)
    code = 0
    try:
        pipeline.train(run, overwrite=overwrite, resume=resume, log=log)
    except HubembedError as err:
        launch.report_error(err)
        code = err.exit_code
    launch.exit_rank(code)


def _same_output(output, resume) -> str:
    from hubembed.errors import ConfigError

    if output and Path(output) != Path(resume):
        raise ConfigError(f"--output {output} differs from --resume {resume}; drop --output (a run resumes where it started)")
    return str(Path(resume))


def _same_launch(stage: Path, num_processes, accelerate_config):
    """A resumed run runs on as many processes as it started on (the global batch must not change)."""
    from hubembed import launch
    from hubembed.errors import ConfigError
    from hubembed.pipeline import CHECKPOINTS

    if launch.launched():
        return num_processes, accelerate_config
    record = launch.read_launch_record(stage / CHECKPOINTS)
    if num_processes is None and accelerate_config is None:
        return (record["num_processes"] if record["num_processes"] > 1 else None), record["accelerate_config"]
    if (num_processes or 1) != record["num_processes"] and accelerate_config is None:
        raise ConfigError(
            f"the interrupted run started on {record['num_processes']} process(es); resume it with "
            f"--num-processes {record['num_processes']} (or without the flag)"
        )
    return num_processes, accelerate_config


def _cached_loss(cfg, size: int):
    """`--mini-batch-size N`: MNR becomes cached MNR (the same loss, embedded N texts at a time)."""
    from hubembed.config import Step
    from hubembed.errors import ConfigError
    from hubembed.registry import registry

    if cfg.loss is None:
        raise ConfigError("--mini-batch-size needs an MNR loss: pass --plugin mnr")
    short = registry().resolve("loss", cfg.loss.name).short
    if short == "mnr":
        return dataclasses.replace(cfg, loss=Step("cached_mnr", {**cfg.loss.params, "mini_batch_size": size}))
    if short == "cached_mnr":
        return dataclasses.replace(cfg, loss=Step(cfg.loss.name, {**cfg.loss.params, "mini_batch_size": size}))
    raise ConfigError(f"--mini-batch-size applies to the MNR losses (mnr, cached_mnr), not {short}; drop it")


def _merge(cfg):
    """`--merge`: the trainer's `merge` param (adapter trainers such as lora)."""
    from hubembed.config import Step
    from hubembed.errors import ConfigError
    from hubembed.registry import registry

    info = registry().resolve("trainer", cfg.trainer.name)
    if "merge" not in {f.name for f in dataclasses.fields(info.load().Params)}:
        raise ConfigError(f"--merge applies to adapter trainers (--trainer lora), not {info.short}; drop --merge")
    return dataclasses.replace(cfg, trainer=Step(cfg.trainer.name, {**cfg.trainer.params, "merge": True}))


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
    weights = m.get("weights") or {}
    if weights.get("format") == "lora-adapter":
        base = weights["base_model"]
        merged = f"; merged model: {out}/{weights['merged']['path']}/" if weights.get("merged") else ""
        click.echo(f"        a LoRA adapter ({weights['adapter']['bytes'] / 1e6:.1f} MB, {weights['trainable_share']:.2%} of the "
                   f"weights trained) on {base['id']}{'@' + base['revision'] if base.get('revision') else ''}{merged}")
    click.echo(f"Again:  hubembed train --config {Path(out) / 'hubembed_run.yaml'} --overwrite")
