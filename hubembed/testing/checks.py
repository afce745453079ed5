"""Contract checks: exercise a plugin the way a hubembed run will, on the tiny model, in seconds.

    from hubembed.testing import check_loss
    check_loss(FocalLoss)                      # a class, an instance, or a registered name ("acme.focal.v1")

Every check first checks what all plugins share: the class passes the registry's validation (base class, frozen
`Params` dataclass whose fields have types a run file carries and defaults of those types, one-line `summary`,
declared shapes), every param has a help text, the params survive the trip through a run config (YAML and JSON, back to an equal `Params`), and a citation is BibTeX. Then:

- `check_data_builder`: builds every shape it declares in `produces` (a transform gets a tiny upstream of the first
  shape it `consumes`); the "train" split has the shape's columns with the right value types and is not empty; the
  stats it reports for the card are JSON; building again with the same seed gives the same rows.
- `check_loss`: `prepare_model()` returns a model, `build()` an `nn.Module`; a 2-step training run with the built-in
  full trainer on tiny data of every shape it `expects` gives a finite loss and changes the weights; its
  `default_data` and `default_eval` name installed plugins, and that data gives a shape it expects.
- `check_trainer`: `prepare_model()` and 2 steps of training the tiny model with the MNR loss, as a run trains it
  (its own `train()`, else the core's runner: `hubembed.training.train`): a `TrainResult`
  with `steps == max_steps`, a finite loss, JSON log history, changed weights, and a model whose saved copy gives
  the same embeddings; then what `hubembed train --resume` needs: the run left a whole checkpoint-1 in
  `job.output_dir/checkpoints`, and a fresh model resumed from it (`job.resume_from`) trains only the step left and
  ends with the weights of the run that was not interrupted.
- `check_evaluator`: `evaluate()` gives a non-empty list of `Score`s (finite values, names filled in, unique keys, at
  least one headline `main` score), the same values when asked twice, and leaves the model's weights alone; an
  evaluator whose `hold_out()` takes held-out rows is given tiny triplets to split (no anchor on both sides) and
  scores what it kept.

A failure raises `ContractError` (an AssertionError, so pytest shows it; a PluginError, so the CLI prints one line)
naming the plugin, what broke and how to fix it. A passing check returns a `CheckReport` of what it verified.
Params for the run come from the plugin's `check_params(workdir)` hook, then from `params=`; the model is the
tiny BERT (`model=` takes any sentence-transformers folder).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from hubembed.errors import HubembedError, PluginError
from hubembed.types import BASES, SHAPES, Plugin

__all__ = [
    "CheckReport",
    "ContractError",
    "check_data_builder",
    "check_evaluator",
    "check_loss",
    "check_plugin",
    "check_registered",
    "check_trainer",
    "tiny_model_path",
]

STEPS = 2
BATCH = 8


class ContractError(PluginError, AssertionError):
    """A plugin does not do what hubembed will ask of it; the message says what and how to fix it."""


@dataclass
class CheckReport:
    """What a contract check verified (each entry of `passed` is one property that holds)."""

    kind: str
    plugin: str
    passed: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.plugin} ({self.kind}): " + "; ".join(self.passed)


@lru_cache(maxsize=1)
def tiny_model_path() -> str:
    """The tiny BERT, built once per process into a temporary folder (removed at exit)."""
    import atexit
    import shutil

    from hubembed.testing.tiny import build_tiny_model

    folder = Path(tempfile.mkdtemp(prefix="hubembed-tiny-"))
    atexit.register(shutil.rmtree, folder, True)
    return build_tiny_model(folder / "tiny-bert")


# --- what every kind shares ----------------------------------------------------------------------------------


def _fail(who: str, message: str) -> ContractError:
    return ContractError(f"{who}: {message}")


def _target(plugin: Any, kind: str | None) -> tuple[str, type[Plugin], Any, str]:
    """(kind, class, instance params or None, display name) of a class, an instance or a registered name."""
    if isinstance(plugin, str):
        from hubembed.registry import registry

        info = registry().find(plugin, kind)
        return info.kind, info.load(), None, info.name
    params = None
    if isinstance(plugin, Plugin):
        params, plugin = plugin.params, type(plugin)
    if not isinstance(plugin, type) or not issubclass(plugin, Plugin):
        raise ContractError(f"{plugin!r} is not a plugin class: subclass hubembed.types.{BASES[kind or 'loss'].__name__}")
    found_kind = next((k for k, base in BASES.items() if issubclass(plugin, base)), None)
    if found_kind is None:
        raise ContractError(f"{plugin.__name__} subclasses none of DataBuilder, Loss, Trainer, Evaluator")
    if kind is not None and found_kind != kind:
        article = {"evaluator": "an"}.get
        raise ContractError(f"{plugin.__name__} is {article(found_kind, 'a')} {found_kind} plugin, not {article(kind, 'a')} {kind} plugin")
    return found_kind, plugin, params, plugin.__qualname__


def _static(kind: str, cls: type[Plugin], who: str, report: CheckReport) -> None:
    """The part of the contract that needs no model: what the registry checks on load, and the params schema."""
    from hubembed.registry import NAME_RE, _validate

    try:
        _validate(kind, cls)
    except PluginError as err:
        raise _fail(who, str(err)) from None
    report.passed.append("registry validation (base class, frozen Params of run-file types with defaults, summary, shapes, method)")
    if "\n" in cls.summary.strip():
        raise _fail(who, "summary must be one line (it is a row of `hubembed plugins list`)")
    if cls.citation is not None and not cls.citation.strip().startswith("@"):
        raise _fail(who, "citation must be BibTeX (starting with @article{...} / @inproceedings{...}) or None")
    if cls.superseded_by is not None and not NAME_RE.match(cls.superseded_by):
        raise _fail(who, f"superseded_by {cls.superseded_by!r} must be a pinned name like owner.name.v2")
    for f in dataclasses.fields(cls.Params):  # types and defaults: checked by _validate above
        if not str(f.metadata.get("help", "")).strip():
            raise _fail(who, f'param {f.name} has no help; use field(default=..., metadata={{"help": "..."}})')
    try:
        cls.Params()
    except Exception as err:
        raise _fail(who, f"Params() with every default fails ({type(err).__name__}: {err})") from None
    report.passed.append("params: defaults, help texts and types")


def _params(cls: type[Plugin], given: Any, workdir: Path, who: str, report: CheckReport) -> Any:
    """The Params for the check run, built the way a run config builds them, then round-tripped through YAML."""
    import yaml

    from hubembed.config import make_params, params_to_dict

    if given is not None and dataclasses.is_dataclass(given) and not isinstance(given, type):
        params = given
    else:
        values = dict(cls.check_params(workdir))
        values.update(given or {})
        try:
            params = make_params(cls.Params, values, who)
        except HubembedError as err:
            raise _fail(who, f"check_params() or params= give values the Params reject: {err}") from None
    plain = params_to_dict(params)
    try:
        text = yaml.safe_dump(plain, sort_keys=False)
        json.dumps(plain)
    except (TypeError, ValueError, yaml.YAMLError) as err:
        raise _fail(
            who, f"params {plain!r} cannot be written to hubembed_run.yaml ({type(err).__name__}); use str, int, "
            f"float, bool, None, and lists, tuples or dicts of those"
        ) from None
    try:
        again = make_params(cls.Params, yaml.safe_load(text) or {}, who)
    except HubembedError as err:
        raise _fail(who, f"params written to a run config do not load back: {err}") from None
    if again != params:
        raise _fail(who, f"params change on the way through a run config: {params!r} came back as {again!r}")
    report.passed.append("params survive a run config (YAML and JSON)")
    report.details["params"] = plain
    return params


def _instance(cls: type[Plugin], params: Any, who: str) -> Plugin:
    try:
        plugin = cls(params)
    except HubembedError:
        raise
    except Exception as err:
        raise _fail(who, f"creating it with its params failed ({type(err).__name__}: {err})") from None
    if getattr(plugin, "params", None) is not params:
        raise _fail(who, "__init__ must keep the params: call super().__init__(params)")
    return plugin


@contextmanager
def _workdir(workdir: str | Path | None) -> Iterator[Path]:
    """A folder for the check's files, and torch on one thread meanwhile: a tiny model gains nothing from more,
    and on a busy machine extra threads only wait for cores (10x slower measured on 2 shared cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if workdir is not None:
            Path(workdir).mkdir(parents=True, exist_ok=True)
            yield Path(workdir)
            return
        with tempfile.TemporaryDirectory(prefix="hubembed-check-") as tmp:
            yield Path(tmp)
    finally:
        torch.set_num_threads(threads)


def _start(kind: str | None, plugin: Any, params: Any, workdir: Path) -> tuple[str, type[Plugin], Plugin, str, CheckReport]:
    kind, cls, own_params, who = _target(plugin, kind)
    report = CheckReport(kind, who)
    _static(kind, cls, who, report)
    instance = _instance(cls, _params(cls, params if params is not None else own_params, workdir, who, report), who)
    return kind, cls, instance, who, report


def _load_model(model: str | None) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model or tiny_model_path()), device="cpu")


def _snapshot(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _changed(before: dict[str, Any], model: Any) -> bool:
    import torch

    after = model.state_dict()
    return any(k not in before or not torch.equal(before[k], v) for k, v in after.items())


def _training(**overrides: Any) -> Any:
    from hubembed.types import TrainingParams

    values = dict(max_steps=STEPS, batch_size=BATCH, lr=1e-3, warmup_ratio=0.0, precision="fp32", logging_steps=1)
    values.update(overrides)
    return TrainingParams(**values)


def _check_values(ds: Any, shape: str, who: str) -> None:
    """Column value types: texts are non-empty strings, scores 0-1 numbers, labels numbers."""
    sample = ds.select(range(min(len(ds), 200)))
    for column in SHAPES[shape]:
        values = sample[column]
        if column == "score":
            bad = [v for v in values if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v <= 1.0]
            if bad:
                raise _fail(who, f"{shape} column score must hold numbers in 0-1, got {bad[0]!r}")
        elif column == "label":
            bad = [v for v in values if not isinstance(v, (int, float)) or isinstance(v, bool)]
            if bad:
                raise _fail(who, f"{shape} column label must hold numbers (class ids), got {bad[0]!r}")
        else:
            bad = [v for v in values if not isinstance(v, str) or not v.strip()]
            if bad:
                raise _fail(who, f"{shape} column {column} must hold non-empty strings, got {bad[0]!r}")


# --- the four kinds ------------------------------------------------------------------------------------------


def check_data_builder(
    plugin: Any, *, params: Any = None, model: str | None = None, workdir: str | Path | None = None,
    deterministic: bool = True,
) -> CheckReport:
    """Build every declared shape and check it; see the module docstring."""
    from hubembed.pipeline import fingerprint
    from hubembed.testing.tinydata import tiny_dataset_dict
    from hubembed.types import BuildContext

    with _workdir(workdir) as work:
        kind, cls, builder, who, report = _start("data", plugin, params, work)
        upstream_shape = builder.consumes[0] if builder.consumes else None
        model_path = str(model or tiny_model_path())
        produced: dict[str, int] = {}

        def build(shape: str) -> Any:
            ctx = BuildContext(shape=shape, seed=0, model=model_path, cache_dir=work / "cache", log=lambda m: None)
            upstream = tiny_dataset_dict(upstream_shape, n=32) if upstream_shape else None
            result = builder.build(ctx, upstream)
            if result is None or not hasattr(result, "keys") or "train" not in result:
                raise _fail(who, f"build() for {shape} must return a DatasetDict with a 'train' split, got {type(result).__name__}")
            ds = result["train"]
            missing = [c for c in SHAPES[shape] if c not in getattr(ds, "column_names", [])]
            if missing:
                raise _fail(who, f"declares it produces {shape} but its 'train' split lacks column(s) {', '.join(missing)}")
            if len(ds) == 0:
                raise _fail(who, f"build() for {shape} gave an empty 'train' split")
            try:
                json.dumps(ctx.stats)
            except (TypeError, ValueError):
                raise _fail(who, f"ctx.stats must be JSON (it goes to metrics.json and the card), got {ctx.stats!r}") from None
            _check_values(ds, shape, who)
            return ds

        declared = tuple(builder.produces)
        for shape in declared:
            ds = build(shape)
            produced[shape] = len(ds)
        report.passed.append(f"builds what it declares: {', '.join(f'{s} ({n} rows)' for s, n in produced.items())}")
        if deterministic:
            first = declared[0]
            if fingerprint(build(first)) != fingerprint(build(first)):
                raise _fail(who, f"two builds of {first} with the same seed differ; seed every random choice with ctx.seed")
            report.passed.append("the same seed gives the same rows")
        report.details["produced"] = produced
        return report


def check_loss(
    plugin: Any, *, params: Any = None, model: str | None = None, workdir: str | Path | None = None,
    trainer: str | None = None, steps: int = STEPS,
) -> CheckReport:
    """Build the loss and train the tiny model `steps` steps on every shape it expects (with `trainer`, by default
    the registry's default trainer); see the module docstring."""
    from torch import nn

    from hubembed.registry import DEFAULT_TRAINER, registry
    from hubembed.testing.tinydata import tiny_dataset
    from hubembed.training import train
    from hubembed.types import TrainJob, TrainResult

    with _workdir(workdir) as work:
        kind, cls, loss, who, report = _start("loss", plugin, params, work)
        if not isinstance(cls.in_batch_negatives, bool):
            raise _fail(who, "in_batch_negatives must be True or False")
        _check_defaults(cls, who, report)
        runner = registry().create("trainer", trainer or DEFAULT_TRAINER)
        losses: dict[str, float] = {}
        for shape in loss.expects:
            st_model = loss.prepare_model(_load_model(model))
            if st_model is None or not hasattr(st_model, "encode"):
                raise _fail(who, "prepare_model() must return the (possibly changed) SentenceTransformer")
            module = loss.build(st_model)
            if not isinstance(module, nn.Module):
                raise _fail(who, f"build() must return a torch nn.Module, got {type(module).__name__}")
            try:  # they go to metrics.json and the card
                json.dumps(loss.stats)
            except (TypeError, ValueError) as err:
                raise _fail(who, f"self.stats must hold JSON values ({err})") from None
            before = _snapshot(st_model)
            job = TrainJob(
                model=st_model, loss=loss, train_dataset=tiny_dataset(shape, n=STEPS * BATCH),
                training=_training(max_steps=steps), output_dir=work / f"train-{shape}", log=lambda m: None,
            )
            result = train(job, runner)
            if not isinstance(result, TrainResult) or result.steps != steps:
                raise _fail(who, f"a {steps}-step run on {shape} data did not take {steps} steps")
            if not math.isfinite(result.train_loss):
                raise _fail(who, f"training on {shape} data gave a non-finite loss ({result.train_loss})")
            if not _changed(before, st_model):
                raise _fail(who, f"{steps} training steps on {shape} data left every weight unchanged; does the loss "
                            f"use the model's embeddings (model(features)['sentence_embedding'])?")
            losses[shape] = round(result.train_loss, 4)
        report.passed.append(f"{steps}-step training on {', '.join(losses)} data: finite loss, weights change")
        report.details["train_loss"] = losses
        return report


def _check_defaults(cls: Any, who: str, report: CheckReport) -> None:
    """default_data and default_eval (or hubembed's defaults, where they are None) name installed plugins, and the
    default data fits the loss."""
    from hubembed.errors import UnknownPluginError
    from hubembed.registry import defaults_of, registry

    reg = registry()
    data, evaluators = defaults_of(cls)
    chain = []
    for name in data:
        try:
            chain.append(reg.resolve("data", name).load())
        except (UnknownPluginError, PluginError) as err:
            raise _fail(who, f"default_data names {name!r}, which cannot be used: {err}") from None
    for name in evaluators:
        try:
            reg.resolve("evaluator", name).load()
        except (UnknownPluginError, PluginError) as err:
            raise _fail(who, f"default_eval names {name!r}, which cannot be used: {err}") from None
    if not chain:
        raise _fail(who, "default_data is empty; name the data chain `--plugin NAME` alone should train on")
    produced = set(chain[-1].produces)
    if not produced & set(cls.expects):
        unset = f" (default_data is not set, so it is hubembed's: {' -> '.join(data)})" if cls.default_data is None else ""
        raise _fail(who, f"default_data ends with a step that produces {'/'.join(sorted(produced))}, "
                    f"but the loss expects {'/'.join(cls.expects)}{unset}")
    report.passed.append(f"default data ({' -> '.join(data)}) fits; default eval ({', '.join(evaluators) or 'none'}) installed")


def check_trainer(
    plugin: Any, *, params: Any = None, model: str | None = None, workdir: str | Path | None = None,
    loss: str = "mnr", shape: str = "triplet", steps: int = STEPS, resume: bool = True,
) -> CheckReport:
    """prepare_model() + a `steps`-step train() of the tiny model, then (`resume`, with 2 steps or more) the same run
    resumed from its first checkpoint; see the module docstring."""
    with _workdir(workdir) as work:
        kind, cls, trainer, who, report = _start("trainer", plugin, params, work)
        st_model, result = _train_checked(trainer, model, loss, shape, steps, work / "train", who)
        report.passed.append(f"{steps}-step train(): TrainResult with {steps} steps, finite loss, weights change")
        trained = _snapshot(st_model)
        _check_saved(st_model, work / "saved", who)
        report.passed.append("the saved model reloads with the same embeddings")
        if resume and steps >= 2:
            _check_resume(trainer, model, loss, shape, steps, work, trained, who)
            report.passed.append("resumed from checkpoint-1 it trains only the steps left, to the same weights")
        report.details["train_loss"] = round(result.train_loss, 4)
        return report


def _trainer_job(trainer: Any, model: str | None, loss: str, shape: str, steps: int, output_dir: Path, who: str,
                 resume_from: Path | None = None, count: list[int] | None = None) -> Any:
    """A fresh prepared tiny model and its TrainJob, checkpointing every step; `count` gets one entry per loss
    forward (one a training step), to tell a resumed run from one that starts over."""
    from hubembed.registry import registry
    from hubembed.testing.tinydata import tiny_dataset
    from hubembed.types import TrainJob

    loss_plugin = registry().create("loss", loss)
    if count is not None:
        loss_plugin.build = _counted(loss_plugin.build, count)  # on this instance only
    st_model = trainer.prepare_model(loss_plugin.prepare_model(_load_model(model)))
    if st_model is None or not hasattr(st_model, "encode"):
        raise _fail(who, "prepare_model() must return the (possibly changed) SentenceTransformer")
    return TrainJob(
        model=st_model, loss=loss_plugin, train_dataset=tiny_dataset(shape, n=STEPS * BATCH),
        training=_training(max_steps=steps, save_steps=1), output_dir=output_dir, log=lambda m: None,
        resume_from=resume_from,
    )


def _counted(build: Any, count: list[int]) -> Any:
    def build_counted(model: Any) -> Any:
        module = build(model)
        module.register_forward_pre_hook(lambda *_: count.append(1))
        return module

    return build_counted


def _train_checked(trainer: Any, model: str | None, loss: str, shape: str, steps: int, output_dir: Path,
                   who: str) -> tuple[Any, Any]:
    """Train a fresh model `steps` steps as a run does; the TrainResult must say what happened and the weights must
    change."""
    from hubembed.training import train
    from hubembed.types import TrainResult

    job = _trainer_job(trainer, model, loss, shape, steps, output_dir, who)
    before = _snapshot(job.model)
    result = train(job, trainer)
    if not isinstance(result, TrainResult):
        raise _fail(who, f"train() must return a hubembed.types.TrainResult, got {type(result).__name__}")
    if result.steps != steps:
        raise _fail(who, f"train() with training.max_steps={steps} took {result.steps} steps; honour job.training")
    if not math.isfinite(result.train_loss) or result.runtime_s < 0 or result.samples < 0:
        raise _fail(who, f"TrainResult has a non-finite loss or a negative runtime/samples: {result!r}")
    try:
        json.dumps(result.log_history)
    except (TypeError, ValueError):
        raise _fail(who, "TrainResult.log_history must be a JSON list of dicts (it goes to metrics.json)") from None
    if not _changed(before, job.model):
        raise _fail(who, f"{steps} training steps left every weight unchanged; train job.model in place")
    return job.model, result


def _check_saved(st_model: Any, folder: Path, who: str) -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    texts = ["A man is playing a guitar.", "The cat sleeps on the sofa."]
    st_model.eval()
    expected = st_model.encode(texts, convert_to_numpy=True)
    st_model.save(str(folder), create_model_card=False)
    again = SentenceTransformer(str(folder), device="cpu").encode(texts, convert_to_numpy=True)
    if expected.shape != again.shape or not np.allclose(expected, again, atol=1e-4):
        raise _fail(who, "the saved model gives other embeddings than the trained one; save what was trained")


RESUME_FIX = "train with the core's runner (no train() of its own, or hubembed.api.run_training(job, overrides) in it)"


def _check_resume(trainer: Any, model: str | None, loss: str, shape: str, steps: int, work: Path,
                  trained: dict[str, Any], who: str) -> None:
    """What `hubembed train --resume` asks: the run checkpointed, and a fresh model resumed from its first
    checkpoint trains only the steps left and ends with the weights of the run that was not interrupted."""
    from hubembed.checkpoints import CHECKPOINTS, checkpoint_damage
    from hubembed.training import train

    first = work / "train" / CHECKPOINTS / "checkpoint-1"
    damage = checkpoint_damage(first) if first.is_dir() else "it is missing"
    if damage is not None:
        raise _fail(who, f"training with training.save_steps=1 left no whole job.output_dir/{CHECKPOINTS}/checkpoint-1 "
                    f"({damage}), so `hubembed train --resume` cannot continue its runs; keep output_dir and save_* "
                    f"out of arguments(), and {RESUME_FIX}")
    count: list[int] = []
    job = _trainer_job(trainer, model, loss, shape, steps, work / "resumed", who, resume_from=first, count=count)
    result = train(job, trainer)
    if len(count) != steps - 1 or getattr(result, "steps", None) != steps:
        raise _fail(who, f"resumed from checkpoint-1 of a {steps}-step run, train() trained {len(count)} steps and "
                    f"reported {getattr(result, 'steps', '?')} (want {steps - 1} and {steps}): it must continue from "
                    f"job.resume_from; {RESUME_FIX}")
    after = job.model.state_dict()
    drift = max((float((after[k] - v).abs().max()) for k, v in trained.items() if k in after and v.is_floating_point()),
                default=0.0)
    if set(after) != set(trained) or drift > 1e-5:
        raise _fail(who, f"resumed from checkpoint-1, the model ends {drift:.1e} away from the run that was not "
                    f"interrupted; restore the weights, optimizer and scheduler from job.resume_from, or {RESUME_FIX}")


HELD_OUT_SHAPE = "triplet"  # the tiny rows an evaluator's hold_out() is checked with


def _held_out(evaluator: Any, who: str, report: CheckReport) -> Any:
    """An evaluator that scores held-out rows: `hold_out()` on tiny triplets gives a HeldOut whose rows and training
    rows share no anchor and together are all the rows; it is what evaluate() then gets as `ctx.held_out`."""
    import dataclasses as dc

    from hubembed.heldout import ANCHOR, HeldOut, fingerprint
    from hubembed.testing.tinydata import tiny_dataset

    ds = tiny_dataset(HELD_OUT_SHAPE, n=200)
    held = evaluator.hold_out(ds, HELD_OUT_SHAPE)
    if held is None:
        return None
    if not isinstance(held, HeldOut):
        raise _fail(who, f"hold_out() returned {type(held).__name__}, not hubembed.api.HeldOut (or None)")
    column = ANCHOR[HELD_OUT_SHAPE]
    if set(held.rows[column]) & set(held.train[column]) or len(held.rows) + len(held.train) != len(ds):
        raise _fail(who, "hold_out() must split the rows in two, whole anchor groups on one side (hubembed.api.split_held_out)")
    report.passed.append(f"hold_out() keeps {len(held.rows)} of {len(ds)} rows apart, no anchor on both sides")
    return dc.replace(held, source="tiny", fingerprint=fingerprint(held.rows))


def check_evaluator(
    plugin: Any, *, params: Any = None, model: str | None = None, workdir: str | Path | None = None,
    repeat: bool = True,
) -> CheckReport:
    """Evaluate the tiny model (twice) and check the scores; see the module docstring."""
    from hubembed.types import EvalContext, Score

    with _workdir(workdir) as work:
        kind, cls, evaluator, who, report = _start("evaluator", plugin, params, work)
        st_model = _load_model(model)
        before = _snapshot(st_model)
        ctx = EvalContext(seed=0, cache_dir=work / "cache", batch_size=32, log=lambda m: None, label="base",
                          held_out=_held_out(evaluator, who, report))
        scores = evaluator.evaluate(st_model, ctx)
        if not isinstance(scores, list) or not scores:
            raise _fail(who, "evaluate() must return a non-empty list of hubembed.types.Score")
        for s in scores:
            if not isinstance(s, Score):
                raise _fail(who, f"evaluate() returned {type(s).__name__}, not hubembed.types.Score")
            empty = [f for f in ("task", "task_type", "dataset", "dataset_name", "split", "metric") if not getattr(s, f)]
            if empty:
                raise _fail(who, f"score {s.key} has empty {', '.join(empty)}; the card's model-index needs them")
            if not isinstance(s.value, (int, float)) or not math.isfinite(s.value):
                raise _fail(who, f"score {s.key} is {s.value!r}; values must be finite numbers")
        keys = [s.key for s in scores]
        if len(set(keys)) != len(keys):
            raise _fail(who, f"scores repeat a task/split/metric: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
        if not any(s.main for s in scores):
            raise _fail(who, "no score has main=True; mark the headline metric of each task and split")
        try:
            json.dumps([dataclasses.asdict(s) for s in scores])
        except (TypeError, ValueError):
            raise _fail(who, "scores must be JSON (they go to metrics.json)") from None
        report.passed.append(f"{len(scores)} well-formed scores, {sum(s.main for s in scores)} main")
        if repeat:
            ctx.label = "trained"
            again = {s.key: s.value for s in evaluator.evaluate(st_model, ctx)}
            drift = [k for k, v in ((s.key, s.value) for s in scores) if k not in again or abs(again[k] - v) > 1e-6]
            if drift:
                raise _fail(who, f"evaluating the same model twice changed {drift[0]}; evaluation must be deterministic")
            report.passed.append("the same model gets the same scores twice")
        if _changed(before, st_model):
            raise _fail(who, "evaluate() changed the model's weights; evaluators must only read the model")
        report.passed.append("the model is left unchanged")
        report.details["scores"] = {s.key: round(float(s.value), 4) for s in scores}
        return report


def check_registered(kind: str, name: str, cls: type[Plugin] | None = None) -> Any:
    """The installed entry point `name` of `kind` loads (to `cls`, when given) and is not broken; returns its
    PluginInfo (distribution, version). Fails with a hint to install the package when it is not registered."""
    from hubembed.errors import UnknownPluginError
    from hubembed.registry import NAME_RE, registry, reset

    if not NAME_RE.match(name):
        raise ContractError(f"{name!r} is not a pinned name; names look like owner.name.v1")
    reset()  # see distributions installed since the registry was first read
    try:
        info = registry().resolve(kind, name)
    except UnknownPluginError:
        raise ContractError(f"no {kind} plugin {name} is installed; `pip install -e .` the package that declares it") from None
    if info.name != name:
        raise ContractError(f"{name} resolves to {info.name}; declare the entry point under the pinned name {name}")
    if info.error is not None:
        raise ContractError(f"{name} from {info.distribution} is broken: {info.error}")
    if cls is not None and info.load() is not cls:
        raise ContractError(f"{name} loads {info.value}, not {cls.__module__}:{cls.__qualname__}; fix the entry point")
    return info


CHECKS = {"data": check_data_builder, "loss": check_loss, "trainer": check_trainer, "evaluator": check_evaluator}


def check_plugin(plugin: Any, **kwargs: Any) -> CheckReport:
    """Run the check of the plugin's kind (a class, an instance or a registered name)."""
    kind, *_ = _target(plugin, kwargs.pop("kind", None))
    return CHECKS[kind](plugin, **kwargs)
