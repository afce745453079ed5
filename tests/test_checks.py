"""The contract checks of hubembed.testing: they pass real plugins and catch each way a plugin can break the
contract, with one line that says what to fix. Broken plugins here are small real classes, not mocks."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubembed.testing import (
    CheckReport,
    ContractError,
    check_data_builder,
    check_evaluator,
    check_loss,
    check_plugin,
    check_registered,
    check_trainer,
    tiny_dataset_dict,
    tiny_rows,
    write_tiny_file,
)
from hubembed.types import SHAPES, DataBuilder, Evaluator, Loss, Score, Trainer


@dataclass(frozen=True)
class P:
    n: int = field(default=16, metadata={"help": "rows"})


class Pairs(DataBuilder):
    """A correct source: tiny (anchor, positive) pairs."""

    summary = "tiny pairs"
    Params = P
    produces = ("pair",)

    def build(self, ctx, upstream):
        ctx.stats["examples"] = self.params.n
        return tiny_dataset_dict(ctx.shape, n=self.params.n, seed=ctx.seed)


class LiesAboutTriplets(Pairs):
    produces = ("triplet", "pair")

    def build(self, ctx, upstream):
        return tiny_dataset_dict("pair", n=8)


class Unseeded(Pairs):
    def build(self, ctx, upstream):
        return tiny_dataset_dict(ctx.shape, n=8, seed=random.randrange(10**6))


class ScoresOutOfRange(Pairs):
    produces = ("pair-score",)

    def build(self, ctx, upstream):
        from datasets import Dataset, DatasetDict

        rows = tiny_rows("pair-score", n=8)
        rows["score"] = [s * 5 for s in rows["score"]]
        return DatasetDict({"train": Dataset.from_dict(rows)})


class StatsNotJson(Pairs):
    def build(self, ctx, upstream):
        ctx.stats["where"] = Path("/tmp")
        return super().build(ctx, upstream)


class Lowercase(DataBuilder):
    """A correct transform: consumes pairs, produces them lowercased."""

    summary = "lowercases pairs"
    consumes = ("pair",)
    produces = ("pair",)

    def build(self, ctx, upstream):
        return upstream.map(lambda row: {c: row[c].lower() for c in SHAPES["pair"]})


@dataclass
class NotFrozen:
    n: int = 1


@dataclass(frozen=True)
class NoHelp:
    n: int = 1


@dataclass(frozen=True)
class NoDefault:
    n: int = field(metadata={"help": "rows"})


@dataclass(frozen=True)
class PathParam:
    where: Path = field(default=Path("/tmp"), metadata={"help": "a folder"})


def with_params(base: type, params: type) -> type:
    return type(f"{base.__name__}With{params.__name__}", (base,), {"Params": params})


class ConstantLoss(Loss):
    """Builds a module whose loss ignores the model: training cannot change the model."""

    summary = "constant"
    expects = ("pair",)

    def build(self, model):
        import torch

        class Module(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.bias = torch.nn.Parameter(torch.ones(1))

            def forward(self, features, labels=None):
                return (self.bias**2).sum()

        return Module()


class NotAModule(ConstantLoss):
    def build(self, model):
        return lambda features, labels: 0.0


class UnknownDefaultData(ConstantLoss):
    default_data = ("no-such-builder",)


class UnknownDefaultEval(ConstantLoss):
    default_eval = ("no-such-evaluator",)


class DefaultDataDoesNotFit(ConstantLoss):
    expects = ("sentences",)  # nli gives pairs, triplets and scored or labelled pairs, never single sentences


class IgnoresMaxSteps(Trainer):
    summary = "trains one step whatever it is asked"

    def train(self, job):
        from hubembed.types import TrainResult

        return TrainResult(train_loss=1.0, runtime_s=0.1, samples=8, steps=1)


class NoCheckpoints(Trainer):
    """A training loop of its own without checkpoints (as scaffolded trainers were): `--resume` has nothing to
    continue from. (Through the runner it could not turn them off: the runner refuses `save_strategy`.)"""

    summary = "trains without checkpoints"

    def train(self, job):
        from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

        from hubembed.types import TrainResult

        args = SentenceTransformerTrainingArguments(
            output_dir=str(job.output_dir / "checkpoints"), max_steps=job.training.max_steps,
            per_device_train_batch_size=job.training.batch_size, save_strategy="no", report_to="none", use_cpu=True)
        trainer = SentenceTransformerTrainer(model=job.model, args=args, train_dataset=job.train_dataset, loss=job.loss.build)
        output = trainer.train()
        return TrainResult(float(output.training_loss), 1.0, job.training.batch_size * output.global_step,
                           output.global_step, list(trainer.state.log_history))


class StartsOver(Trainer):
    """Checkpoints, but trains from the first step whatever job.resume_from says."""

    summary = "ignores job.resume_from"

    def train(self, job):
        from hubembed.api import run_training

        return run_training(dataclasses.replace(job, resume_from=None), self.arguments(job))


class Fixed(Evaluator):
    summary = "fixed scores"

    def score(self, **kw: Any) -> Score:
        values = dict(task="t", task_type="STS", dataset="d", dataset_name="D", split="test", metric="m", value=0.5, main=True)
        return Score(**{**values, **kw})

    def evaluate(self, model, ctx):
        return [self.score()]


class NoMain(Fixed):
    def evaluate(self, model, ctx):
        return [self.score(main=False)]


class NaN(Fixed):
    def evaluate(self, model, ctx):
        return [self.score(value=float("nan"))]


class Repeats(Fixed):
    def evaluate(self, model, ctx):
        return [self.score(), self.score(main=False)]


class Drifts(Fixed):
    calls = 0

    def evaluate(self, model, ctx):
        Drifts.calls += 1
        return [self.score(value=0.1 * Drifts.calls)]


class Touches(Fixed):
    def evaluate(self, model, ctx):
        import torch

        with torch.no_grad():
            next(model.parameters()).add_(1.0)
        return [self.score()]


# --- what passes --------------------------------------------------------------------------------------------


def test_a_correct_source_and_transform_pass(tmp_path, tiny_model):
    report = check_data_builder(Pairs, workdir=tmp_path, model=tiny_model)
    assert isinstance(report, CheckReport) and report.details["produced"] == {"pair": 16}
    assert report.details["params"] == {"n": 16}
    assert any("same seed" in p for p in report.passed)
    assert check_data_builder(Lowercase, workdir=tmp_path, model=tiny_model).details["produced"] == {"pair": 32}


def test_params_given_to_a_check_go_through_the_run_config_path(tmp_path, tiny_model):
    report = check_data_builder(Pairs, params={"n": 8}, workdir=tmp_path, model=tiny_model)
    assert report.details == {"params": {"n": 8}, "produced": {"pair": 8}}
    with pytest.raises(ContractError, match="give values the Params reject: .*n: expected int, got 'eight'"):
        check_data_builder(Pairs, params={"n": "eight"}, workdir=tmp_path, model=tiny_model)


def test_registered_names_and_instances_work_too(tmp_path, tiny_model):
    report = check_plugin("full", kind="trainer", workdir=tmp_path, model=tiny_model)
    assert report.plugin == "hubembed.full.v1" and "reloads with the same embeddings" in str(report)
    assert "resumed from checkpoint-1 it trains only the steps left, to the same weights" in str(report)
    assert check_evaluator(Fixed(), workdir=tmp_path, model=tiny_model).details["scores"] == {"t/test/m": 0.5}


# --- what breaks the contract, one line each ---------------------------------------------------------------


@pytest.mark.parametrize(
    "plugin, message",
    [
        (with_params(Pairs, NotFrozen), "Params must be a frozen dataclass"),
        (with_params(Pairs, NoHelp), 'param n has no help; use field\\(default=..., metadata={"help": "..."}\\)'),
        (with_params(Pairs, NoDefault), "param n has no default"),
        (with_params(Pairs, PathParam), "cannot be written to hubembed_run.yaml"),
        (type("Summary", (Pairs,), {"summary": "two\nlines"}), "summary must be one line"),
        (type("Cites", (Pairs,), {"citation": "Smith et al."}), "citation must be BibTeX"),
        (LiesAboutTriplets, "declares it produces triplet but its 'train' split lacks column\\(s\\) negative"),
        (Unseeded, "two builds of pair with the same seed differ"),
        (ScoresOutOfRange, "pair-score column score must hold numbers in 0-1"),
        (StatsNotJson, "ctx.stats must be JSON"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_broken_data_builders(plugin, message, tmp_path, tiny_model):
    with pytest.raises(ContractError, match=message) as err:
        check_data_builder(plugin, workdir=tmp_path, model=tiny_model)
    assert "\n" not in str(err.value) and str(err.value).startswith(plugin.__qualname__)


@pytest.mark.parametrize(
    "plugin, message",
    [
        (NotAModule, "build\\(\\) must return a torch nn.Module"),
        (UnknownDefaultData, "default_data names 'no-such-builder', which cannot be used"),
        (UnknownDefaultEval, "default_eval names 'no-such-evaluator'"),
        (DefaultDataDoesNotFit, "default_data ends with a step that produces .*pair-class.* but the loss expects sentences"),
        (ConstantLoss, "2 training steps on pair data left every weight unchanged"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_broken_losses(plugin, message, tmp_path, tiny_model):
    with pytest.raises(ContractError, match=message):
        check_loss(plugin, workdir=tmp_path, model=tiny_model)


def test_a_trainer_that_ignores_max_steps(tmp_path, tiny_model):
    with pytest.raises(ContractError, match="took 1 steps; honour job.training"):
        check_trainer(IgnoresMaxSteps, workdir=tmp_path, model=tiny_model)


@pytest.mark.parametrize(
    "plugin, message",
    [
        (NoCheckpoints, "training with training.save_steps=1 left no whole job.output_dir/checkpoints/checkpoint-1 "
                        "\\(it is missing\\), so `hubembed train --resume` cannot continue its runs; keep output_dir "
                        "and save_\\* out of arguments\\(\\)"),
        (StartsOver, "resumed from checkpoint-1 of a 2-step run, train\\(\\) trained 2 steps and reported 2 "
                     "\\(want 1 and 2\\): it must continue from job.resume_from"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_trainers_that_cannot_resume(plugin, message, tmp_path, tiny_model):
    with pytest.raises(ContractError, match=message) as err:
        check_trainer(plugin, workdir=tmp_path, model=tiny_model)
    assert "\n" not in str(err.value) and str(err.value).endswith(
        "train with the core's runner (no train() of its own, or hubembed.api.run_training(job, overrides) in it)")


@pytest.mark.parametrize(
    "plugin, message",
    [
        (NoMain, "no score has main=True"),
        (NaN, "values must be finite numbers"),
        (Repeats, "scores repeat a task/split/metric"),
        (Drifts, "evaluating the same model twice changed t/test/m"),
        (Touches, "evaluate\\(\\) changed the model's weights"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_broken_evaluators(plugin, message, tmp_path, tiny_model):
    with pytest.raises(ContractError, match=message):
        check_evaluator(plugin, workdir=tmp_path, model=tiny_model)


def test_a_check_of_the_wrong_kind_says_so():
    with pytest.raises(ContractError, match="Fixed is an evaluator plugin, not a loss plugin"):
        check_loss(Fixed)


def test_check_registered():
    assert check_registered("loss", "hubembed.mnr.v1").distribution == "hubembed"
    with pytest.raises(ContractError, match="pip install -e ."):
        check_registered("loss", "acme.nothing.v1")
    with pytest.raises(ContractError, match="loads hubembed_plugins.losses.mnr:MNRLoss, not .*ConstantLoss; fix the entry point"):
        check_registered("loss", "hubembed.mnr.v1", ConstantLoss)


# --- tiny data, fixtures, CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", list(SHAPES))
def test_tiny_data_of_every_shape(shape, tmp_path):
    rows = tiny_rows(shape, n=12)
    assert list(rows) == list(SHAPES[shape]) and all(len(v) == 12 for v in rows.values())
    for column in ("anchor", "positive", "negative"):
        if column in rows:
            assert len(set(rows[column])) == 12  # no repeated text: no false in-batch negatives
    if "score" in rows:
        assert all(0.0 <= s <= 1.0 for s in rows["score"])
    assert tiny_rows(shape, n=12) == rows  # seeded
    from hubembed.datafiles import read_rows

    for suffix in (".csv", ".jsonl"):
        path = write_tiny_file(shape, tmp_path / f"{shape}{suffix}", n=12)
        assert [list(r) for r in read_rows(path)][0] == list(SHAPES[shape]) and len(read_rows(path)) == 12


def test_the_pytest_plugin_fixtures(hubembed_check, hubembed_tiny_dataset, hubembed_tiny_model):
    """The fixtures come from the `pytest11` entry point of the installed hubembed, as for plugin authors."""
    assert Path(hubembed_tiny_model, "modules.json").exists()
    assert len(hubembed_tiny_dataset("triplet", n=8)) == 8
    assert hubembed_check(Pairs).kind == "data"


def test_hubembed_plugins_check_command(run_cli, tmp_path, tiny_model):
    ok = run_cli("plugins", "check", "mnr", "--model", tiny_model, env={"OMP_NUM_THREADS": "1"})
    assert ok.returncode == 0, ok.stderr
    assert "hubembed.mnr.v1 keeps the loss plugin contract." in ok.stdout and "2-step training on" in ok.stdout
    bad = tmp_path / "unseeded.py"
    bad.write_text(
        "import random\nfrom hubembed.types import DataBuilder\nfrom hubembed.testing import tiny_dataset_dict\n"
        "class Unseeded(DataBuilder):\n    summary = 'random'\n    produces = ('pair',)\n"
        "    def build(self, ctx, upstream):\n        return tiny_dataset_dict('pair', n=8, seed=random.randrange(10**6))\n"
    )
    failed = run_cli("plugins", "check", "--code", str(bad), "unseeded", "--model", tiny_model, env={"OMP_NUM_THREADS": "1"})
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1] == (
        "error: local.unseeded.v1: two builds of pair with the same seed differ; seed every random choice with ctx.seed"
    )
