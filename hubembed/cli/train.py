"""`hubembed train`: resolve the run, check it, train, evaluate, write the card, and say what happened."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from hubembed.cli import flags
from hubembed.cli.hub import push_options
from hubembed.cli.plugins import code_option
from hubembed.errors import UnfinishedRunError
from hubembed.hardware import PRECISIONS


@click.command()
@flags.options("trainer")
@click.option("--plugin", "loss", metavar="NAME", help="Loss plugin (mnr, cosine, softmax, ...); it brings default data and eval.")
@click.option("--model", metavar="ID|PATH", help="Base model (default sentence-transformers/all-MiniLM-L6-v2).")
@click.option("--data", "data", multiple=True, metavar="NAME|PATH", help="Data step (repeat for a chain: source, then transforms).")
@click.option("--eval", "eval_", multiple=True, metavar="NAME[:VALUE]", help="Evaluator (repeatable; 'none' for no evaluation).")
@click.option("--eval-data", metavar="NAME|PATH", help="Held-out rows for the in-domain score (default: a share of the data's own rows, never trained on).")
@click.option("--no-held-out", is_flag=True, help="Train on every row: no held-out split, no in-domain score, no best step.")
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
@click.option("--mini-batch-size", type=int, metavar="N", help="GradCache: embed N texts at a time, so big batches fit in memory (losses that have a cached form).")
@push_options
@code_option
def train(loss, model, data, eval_, eval_data, no_held_out, trainer, config_file, overrides, output, epochs, max_steps, batch_size, lr, seed, precision, overwrite, resume, save_steps, save_total_limit, num_processes, accelerate_config, mini_batch_size, **more) -> None:
    """Train an embedding model from plugins, evaluate it before and after, and write a model card.

    \b
    Examples:
      hubembed train --plugin mnr
      hubembed train --plugin cosine --data train.csv --set data.score_scale=5
      hubembed train --config runs/mnr/hubembed_run.yaml --output runs/mnr-again
      hubembed train --plugin mnr --data my-pairs.csv --eval-data my-dev-pairs.csv
      hubembed train --plugin mnr --push --repo-id my-org/minilm-nli
      hubembed train --plugin mnr --trainer lora --merge
      hubembed train --plugin mnr --num-processes 2
      hubembed train --plugin mnr --batch-size 1024 --mini-batch-size 32
      hubembed train --resume runs/mnr
    """
    from hubembed import launch, pipeline

    trainer_flags = flags.given(more)
    if resume:  # the interrupted run's own config, unless --config says it again
        stage, _ = pipeline.resumable(Path(resume))
        output = _same_output(output, resume)
    cfg = _config(config_file, stage if resume else None, loss=loss, model=model, trainer=trainer, output=output,
                  data=data, eval_=eval_, eval_data=eval_data, no_held_out=no_held_out, mini_batch_size=mini_batch_size, trainer_flags=trainer_flags, overrides=overrides,
                  training=dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, seed=seed,
                                precision=precision, save_steps=save_steps, save_total_limit=save_total_limit))
    from hubembed import config as cfgmod

    run = cfgmod.resolve(cfg, say=(lambda m: None) if launch.launched() else None)  # a rank: the launcher said it
    from hubembed.cli.hub import preflight, push_or_explain, push_request

    push = push_request(more)  # bad push flags fail now, not after training
    if push is not None:
        preflight(push, Path(run.output or pipeline.default_output(run)))
    if resume:
        pipeline.check_same_run(run, stage)
        num_processes, accelerate_config = _same_launch(stage, num_processes, accelerate_config)
    if launch.launched():  # a rank started by the launcher below: train, and leave the talking to the launcher
        _train_rank(pipeline, run, overwrite, bool(resume))
        return
    outcome = _train_here_or_launched(pipeline, run, push, num_processes, accelerate_config, overwrite, bool(resume))
    _summary(outcome, run)
    if push is not None:  # saved locally first; here in the launcher (or a single process), never in a rank
        push_or_explain(outcome.output, push)


def _config(config_file, stage, *, loss, model, trainer, output, data, eval_, eval_data, no_held_out, mini_batch_size, trainer_flags, overrides, training):
    """The run config: a config file (or the interrupted run's), then the flags, then --set."""
    from hubembed import config as cfgmod

    cfg = cfgmod.load(config_file) if config_file else cfgmod.load(stage / cfgmod.RUN_FILE) if stage else cfgmod.RunConfig()
    chosen = {
        "loss": cfgmod.Step(loss) if loss and (cfg.loss is None or loss != cfg.loss.name) else cfg.loss,
        "model": model or cfg.model,
        "trainer": cfgmod.Step(trainer) if trainer else cfg.trainer,
        "output": output or cfg.output,
        "data": tuple(cfgmod.data_step(d) for d in data) if data else cfg.data,
        "eval": cfg.eval if not eval_ else () if set(eval_) == {"none"} else tuple(cfgmod.eval_step(e) for e in eval_),
        "eval_data": (cfgmod.data_step(eval_data, flag="--eval-data"),) if eval_data else cfg.eval_data,
    }
    if eval_data and no_held_out:
        from hubembed.errors import ConfigError

        raise ConfigError("--eval-data gives held-out rows and --no-held-out asks for none; drop one of them")
    given = {k: v for k, v in {**training, "hold_out": False if no_held_out else None}.items() if v is not None}
    cfg = dataclasses.replace(cfg, **chosen, training={**cfg.training, **given})
    if mini_batch_size is not None:
        cfg = _mini_batch(cfg, mini_batch_size)
    if trainer_flags:
        cfg = _trainer_flags(cfg, trainer_flags)
    return cfgmod.apply_overrides(cfgmod.with_defaults(cfg), list(overrides))


def _train_here_or_launched(pipeline, run, push, num_processes, accelerate_config, overwrite: bool, resume: bool):
    from hubembed import launch

    log = lambda m: click.echo(m, err=True)  # noqa: E731
    if num_processes is not None or accelerate_config is not None:
        launch.check(num_processes, accelerate_config)
    try:
        if launch.wanted(num_processes, accelerate_config):
            return pipeline.train_launched(
                run, num_processes=num_processes, accelerate_config=accelerate_config, overwrite=overwrite, resume=resume, log=log
            )
        return pipeline.train(run, overwrite=overwrite, resume=resume, log=log)
    except (UnfinishedRunError, launch.LaunchedRunError) as err:  # the model is saved; the push was not made
        if push is None or getattr(err, "kind", type(err).__name__) != "UnfinishedRunError":
            raise
        raise UnfinishedRunError(f"{err}; then push it with `{push.retry_command(Path(run.output), None)}`") from err


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
    except Exception:
        if not launch.error_reported():
            raise
        code = 2  # another rank's user error stopped this one (e.g. at a barrier); the launcher prints that error
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


def _mini_batch(cfg, size: int):
    """`--mini-batch-size N`: the loss's own GradCache form (`Loss.with_mini_batch`), e.g. MNR -> cached MNR."""
    from hubembed.config import Step
    from hubembed.errors import ConfigError
    from hubembed.registry import registry

    if cfg.loss is None:
        raise ConfigError("--mini-batch-size needs a loss: pass --plugin NAME")
    reg = registry()
    info = reg.resolve("loss", cfg.loss.name)
    turned = info.load().with_mini_batch(dict(cfg.loss.params), size)
    if turned is None:
        able = [i.short for i in reg.infos("loss") if i.error is None and i.load().with_mini_batch({}, size) is not None]
        raise ConfigError(f"--mini-batch-size applies to losses with a cached form ({', '.join(able) or 'none installed'}), "
                          f"not {info.short}; drop it")
    name, params = turned
    return dataclasses.replace(cfg, loss=Step(name or cfg.loss.name, params))


def _trainer_flags(cfg, given: dict):
    """Flags a trainer declares (e.g. --merge): the params they set on the chosen trainer."""
    from hubembed.config import Step
    from hubembed.registry import registry

    info = registry().resolve("trainer", cfg.trainer.name)
    params = flags.params_for("trainer", info, given)
    return dataclasses.replace(cfg, trainer=Step(cfg.trainer.name, {**cfg.trainer.params, **params}))


def _summary(outcome, run) -> None:
    out = outcome.output
    record = outcome.record
    train = record.train
    click.echo("")
    kept = f", kept step {train.kept_step}: the best held-out score" if train.kept_step is not None else ""
    click.secho(f"Done in {record.duration_s:.0f} s ({train.steps} steps{kept}, {train.samples_per_s:.1f} samples/s).", bold=True)
    lead = record.scores.headline_row()  # every score of its task (e.g. STSB Pearson and Spearman), other tasks' main
    for row in [r for r in record.scores.table() if r.score.main or (lead and r.score.task == lead.score.task)]:
        delta = "" if row.delta is None else f"  ({row.delta:+.4f})"
        before = "   -  " if row.base is None else f"{row.base:.4f}"
        click.echo(f"  {row.score.dataset_name:<34} {row.score.metric:<16} {before} -> {row.trained:.4f}{delta}")
    click.echo(f"Model:  {out}/  (card: {out}/README.md, metrics: {out}/metrics.json)")
    note = run.trainer.plugin.weights_note(record.weights, Path(out))
    if note:
        click.echo(f"        {note}")
    click.echo(f"Again:  hubembed train --config {Path(out) / 'hubembed_run.yaml'} --overwrite")
