"""The plugin contract: what a data builder, loss, trainer and evaluator are, and what flows between them.

This module imports nothing heavy, so plugins (and `hubembed plugins list`) stay cheap to import. Heavy libraries
(torch, sentence-transformers, datasets) are imported inside plugin methods, never at module level.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

if typing.TYPE_CHECKING:  # only for annotations
    from datasets import DatasetDict
    from sentence_transformers import SentenceTransformer
    from torch import nn

# Sentence-BERT, which every sentence-transformers model card cites (and losses from the SBERT paper cite as theirs)
SBERT_CITATION = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of EMNLP-IJCNLP", year = "2019", url = "https://arxiv.org/abs/1908.10084"
}"""

# A shape names a dataset's columns, in the order sentence-transformers losses read them.
SHAPES: dict[str, tuple[str, ...]] = {
    "pair": ("anchor", "positive"),
    "triplet": ("anchor", "positive", "negative"),
    "pair-score": ("sentence1", "sentence2", "score"),
    "pair-class": ("premise", "hypothesis", "label"),
    "sentences": ("text",),
    # (anchor, positive, negative_1, ..., negative_N) for MNR: N >= 1 hard negatives, columns negative_2... follow
    "n-tuple": ("anchor", "positive", "negative_1"),
    # TSDAE: a sentence with words deleted, and the sentence the decoder must rebuild from its embedding
    "denoising": ("damaged", "original"),
}


def shape_columns(shape: str, column_names: list[str]) -> list[str]:
    """The columns of a dataset of `shape` that a loss reads, in order: SHAPES[shape], plus negative_2,
    negative_3, ... for an n-tuple."""
    columns = list(SHAPES[shape])
    if shape == "n-tuple":
        n = 2
        while f"negative_{n}" in column_names:
            columns.append(f"negative_{n}")
            n += 1
    return columns


KINDS = ("data", "loss", "trainer", "evaluator")


@dataclass(frozen=True)
class NoParams:
    """Params of a plugin that takes none."""


def param_help(**kwargs: Any) -> dict[str, Any]:
    """`field(metadata=param_help(help="..."))` reads better than a bare dict."""
    return dict(kwargs)


@dataclass(frozen=True)
class TrainingParams:
    """Hyperparameters every trainer honours; `training.*` in a run config."""

    epochs: float = field(default=1.0, metadata={"help": "passes over the training data"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: run all epochs)"})
    batch_size: int = field(default=32, metadata={"help": "examples per step (and in-batch negatives for MNR)"})
    lr: float = field(default=2e-5, metadata={"help": "peak learning rate"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "share of steps spent warming up the learning rate"})
    seed: int = field(default=42, metadata={"help": "seed for data sampling, shuffling and initialisation"})
    precision: str = field(
        default="auto", metadata={"help": "auto (bf16 where the hardware has it), fp32, bf16 or fp16"}
    )
    group_by_length: bool = field(
        default=True, metadata={"help": "batch texts of similar length together: less padding, same examples per epoch"}
    )
    logging_steps: int = field(default=10, metadata={"help": "log the training loss every N steps"})
    save_steps: int = field(
        default=500, metadata={"help": "checkpoint every N steps, so `hubembed train --resume OUTPUT` can continue (0: never)"}
    )
    save_total_limit: int = field(default=2, metadata={"help": "keep only the last K checkpoints (0: keep them all)"})
    hold_out: bool = field(default=True, metadata={"help": "hold out rows of the data for the in-domain evaluation (false: train on every row)"})
    keep: str = field(default="best", metadata={"help": "best: keep the step that scored best on the held-out split; last: the last step"})
    evals: int = field(default=10, metadata={"help": "times to score the held-out split during training (0: never)"})

    def __post_init__(self) -> None:
        """Refuse values no trainer can honour, so a run fails when it is resolved, not after data and model loaded
        (hubembed.config.make_params turns the ValueError into a ConfigError)."""
        finite = math.isfinite
        rules = (
            ("epochs", finite(self.epochs) and self.epochs > 0, "a number above 0"),  # even with max_steps set: it is on the card
            ("max_steps", self.max_steps == -1 or self.max_steps >= 1, "-1 (all epochs) or 1 or more"),
            ("batch_size", self.batch_size >= 1, "1 or more"),
            ("lr", finite(self.lr) and self.lr > 0, "a number above 0"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "at least 0 and below 1"),
            ("seed", 0 <= self.seed < 2**32, f"0 to {2**32 - 1}"),  # what numpy's seed takes
            ("logging_steps", self.logging_steps >= 1, "1 or more"),
            ("save_steps", self.save_steps >= 0, "0 (never) or more"),
            ("save_total_limit", self.save_total_limit >= 0, "0 (keep all) or more"),
            ("keep", self.keep in ("best", "last"), "best or last"),
            ("evals", self.evals >= 0, "0 (never) or more"),
        )
        for name, ok, rule in rules:
            if not ok:
                raise ValueError(f"{name} is {getattr(self, name)!r}; it must be {rule} (e.g. {_training_flag(name)})")


# training values that `hubembed train` has a flag for; the others are set with --set training.NAME=VALUE
_TRAINING_FLAGS = ("epochs", "max_steps", "batch_size", "lr", "seed", "save_steps", "save_total_limit")


def _training_flag(name: str) -> str:
    """How to give training value `name` its default on the command line, e.g. `--batch-size 32`."""
    default = TrainingParams.__dataclass_fields__[name].default
    value = f"{default:g}" if isinstance(default, float) else str(default)
    return f"--{name.replace('_', '-')} {value}" if name in _TRAINING_FLAGS else f"--set training.{name}={value}"


@dataclass
class BuildContext:
    """What a data builder gets besides its params."""

    shape: str  # the shape the run needs from this step (one of the step's `produces`)
    seed: int
    model: str  # local path of the resolved base model (miners and labelers embed with it)
    cache_dir: Path
    log: Callable[[str], None] = print
    stats: dict[str, Any] = field(default_factory=dict)  # what the step wants on the model card
    num_labels: int | None = None  # pair-class labels must be below this (the loss's classes); None: any class number


@dataclass
class TrainJob:
    """Everything a trainer needs; the trainer does not know how it was launched."""

    model: SentenceTransformer
    loss: Loss
    train_dataset: Any  # datasets.Dataset of the loss's shape
    training: TrainingParams
    output_dir: Path  # checkpoints go here; the pipeline saves the final model
    log: Callable[[str], None] = print
    resume_from: Path | None = None  # a checkpoint folder of an interrupted run to continue from
    base_model_id: str | None = None  # Hub id and revision of the base model (None for a local folder), so a
    base_revision: str | None = None  # saved adapter can name the model it applies to
    evaluator: Any = None  # (sentence-transformers evaluator, result key): scores held-out rows during training


@dataclass
class TrainResult:
    train_loss: float
    runtime_s: float
    samples: int
    steps: int
    log_history: list[dict[str, Any]] = field(default_factory=list)
    kept_step: int | None = None  # keep: best: the step whose weights the model now has (the best checkpoint)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.runtime_s if self.runtime_s else 0.0


@dataclass
class EvalContext:
    seed: int
    cache_dir: Path
    batch_size: int = 32  # sentence-transformers' encode default; 64 was 6-8% slower on SciFact (benchmarks/eval_speed.py)
    log: Callable[[str], None] = print
    label: str = ""  # "base" or "trained": what is being evaluated
    precision: str = "fp32"  # the run's resolved precision; evaluators run under its autocast
    held_out: Any = None  # hubembed.heldout.HeldOut: the run's own held-out rows, when an evaluator asked for them


@dataclass(frozen=True)
class Score:
    """One number an evaluator measured; becomes an EvalResult in the card's model-index."""

    task: str  # e.g. "sts-dev", "STSBenchmark"
    task_type: str  # e.g. "semantic-similarity", "STS", "Retrieval"
    dataset: str  # dataset id
    dataset_name: str
    split: str
    metric: str  # e.g. "spearman_cosine", "ndcg_at_10"
    value: float
    revision: str | None = None
    main: bool = False  # the headline metric of its task and split
    task_name: str | None = None  # the model-index task name, e.g. "MTEB SciFact" (default: task_type as words)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.split}/{self.metric}"


@dataclass(frozen=True)
class Flag:
    """A command-line flag a plugin adds to `hubembed train` (trainers) or `hubembed eval` (evaluators), so the
    core names no plugin: `Flag("--merge", "also write merged/", param="merge")` sets the trainer's `merge` param
    to true; `Flag("--mteb", "MTEB tasks", param="tasks", metavar="TASK,...")` takes a value. On an evaluator the
    first flag chooses the evaluator; its other flags need the first one."""

    name: str  # e.g. "--merge"
    help: str
    param: str | None = None  # the param it sets; None: the flag only chooses the plugin
    metavar: str | None = None  # None: an on/off flag (the param is set to true)


class Plugin:
    """Base of every plugin: a `Params` dataclass (the config schema), a one-line summary, an optional citation.

    The registered name (`owner.name.vN`) comes from the entry point, so listing plugins imports nothing.
    Never change what a released `vN` does; register a `vN+1` instead.
    """

    kind: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    citation: ClassVar[str | None] = None
    name: str = ""  # set on the instance by the registry: the pinned name it was created under
    superseded_by: ClassVar[str | None] = None  # e.g. "acme.focal.v2": listed next to this version
    flags: ClassVar[tuple[Flag, ...]] = ()  # command-line flags it adds (trainers and evaluators)

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def check_params(cls, workdir: Path) -> dict[str, Any]:
        """Param values for a quick offline run in the contract checks (`hubembed.testing.checks`): small data,
        any input files written under `workdir`. The default, {}, uses every param's default."""
        return {}

    @classmethod
    def environment_problem(cls) -> str | None:
        """Why the installed libraries cannot run this plugin, as one line with the fix (e.g. a transformers/peft
        pair that does not work together), or None. `hubembed doctor` flags it; the plugin raises it when used."""
        return None


class DataBuilder(Plugin):
    """A data step. A source has `consumes = None`; a transform consumes the shapes a previous step produces."""

    kind = "data"
    consumes: ClassVar[tuple[str, ...] | None] = None
    produces: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def reads_file(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """Whether `--data PATH` should go to this (source) builder: (how surely, the params that read it), where 2
        means the file is surely its kind (e.g. it has NLI labels) and 1 that it can read it; None: not its file.
        The surest builder gets the file; a tie is an error that names both."""
        return None

    def build(self, ctx: BuildContext, upstream: DatasetDict | None) -> DatasetDict:
        """Return a DatasetDict with a "train" split whose columns are `SHAPES[ctx.shape]`."""
        raise NotImplementedError


class Loss(Plugin):
    """A training objective: the shapes it accepts and a factory that builds the torch module for a model."""

    kind = "loss"
    expects: ClassVar[tuple[str, ...]] = ()
    # the data chain `--plugin NAME` alone trains on, and the evaluators it scores with; None: hubembed's defaults
    # (hubembed.registry.DEFAULT_DATA / DEFAULT_EVALUATORS)
    default_data: ClassVar[tuple[str, ...] | None] = None
    default_eval: ClassVar[tuple[str, ...] | None] = None
    in_batch_negatives: ClassVar[bool] = False  # True: batches must not repeat a text (false negatives)

    @property
    def stats(self) -> dict[str, Any]:
        """What build() wants on the card, as JSON values (e.g. a guide model's id and revision), like ctx.stats.
        Made on first use, so a subclass's own __init__ need not call super()."""
        return self.__dict__.setdefault("_stats", {})

    def prepare_model(self, model: SentenceTransformer) -> SentenceTransformer:
        """Adapt the model before training (e.g. change pooling); most losses need nothing."""
        return model

    def build(self, model: SentenceTransformer) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def with_mini_batch(cls, params: dict[str, Any], size: int) -> tuple[str | None, dict[str, Any]] | None:
        """What `--mini-batch-size N` turns this loss (with these params) into: (plugin name, params) of the same
        objective embedded N texts at a time (GradCache), the name None for itself; None if it has no such form."""
        return None

    def num_labels(self) -> int | None:
        """How many classes the pair-class labels it trains on may take (0 to N-1), so data builders check them
        before any model loads; None: the loss sets no bound (or reads no labels)."""
        return None

    def negatives_per_anchor(self, batch_size: int, processes: int, columns: int) -> int | None:
        """How many negatives each anchor is scored against, for `batch_size` rows of `columns` texts per process;
        None for losses without in-batch negatives. Recorded in metrics.json and on the card."""
        return None


class Trainer(Plugin):
    """How the model is optimised. The core's runner (`hubembed.training`) trains: trainer arguments from the run,
    precision, length-grouped batches, checkpoints, resume, several processes. A trainer says only what differs:
    `prepare_model` (e.g. add an adapter), `arguments` (e.g. its own learning rate), `save`; every param named
    like a training argument (weight_decay, max_grad_norm, ...) is passed as one without any code."""

    kind = "trainer"

    def prepare_model(self, model: SentenceTransformer) -> SentenceTransformer:
        """Change the model before training (e.g. add a LoRA adapter)."""
        return model

    def arguments(self, job: TrainJob) -> dict[str, Any]:
        """SentenceTransformerTrainingArguments values that differ from the run's, besides the params named like
        training arguments (the runner passes those itself); default: none."""
        return {}

    def train(self, job: TrainJob) -> TrainResult:
        """Only for a training loop of its own (then checkpoints and `job.resume_from` are the trainer's to honour);
        a trainer that does not override it is trained by the core's runner (`hubembed.training.train`)."""
        raise NotImplementedError

    def save(self, job: TrainJob, folder: Path) -> dict[str, Any]:
        """Write the trained `job.model` into `folder` (called on the main process only, after evaluation); return
        what metrics.json should say about the saved weights (merged into its `weights` entry)."""
        job.model.save(str(folder), create_model_card=False)
        return {"format": "full"}  # a whole model (the word names the weights, not a plugin)

    def weights_note(self, weights: dict[str, Any], folder: Path) -> str | None:
        """One line for the summary after training about what `save()` wrote into `folder` (its `weights` facts),
        when there is more to say than "the model is in folder/"; default: nothing."""
        return None


class Evaluator(Plugin):
    kind = "evaluator"

    def evaluate(self, model: SentenceTransformer, ctx: EvalContext) -> list[Score]:
        raise NotImplementedError

    def hold_out(self, ds: Any, shape: str, given: Any = None) -> Any:
        """A `HeldOut` (hubembed.api) when this evaluator scores the run's own held-out rows: cut from the source's
        rows `ds` of `shape`, or taken from `given` (the source's validation split or --eval-data rows); the run
        then trains on its `train` rows and the evaluator gets it as `ctx.held_out`. Default None: it wants none."""
        return None

    def training_evaluator(self, ctx: EvalContext, texts: int) -> tuple[Any, str] | None:
        """(a sentence-transformers evaluator, the key of its result that picks the best step) to score the model
        during training, encoding about `texts` texts per call (so ten calls cost ~10% of training); default None."""
        return None

    def headline(self, scores: list[Score]) -> Score | None:
        """The one score of `scores` (its own) that the summary and the card lead with; default: the first `main`."""
        return next((s for s in scores if s.main), None)

    def figures(self, model: SentenceTransformer, folder: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
        """Draw the trained model's figures for the card into `folder`: {key: {"file": name in folder, ...facts}}
        (JSON values, kept in the run record). Called once, after training; default: none."""
        return {}


BASES: dict[str, type[Plugin]] = {"data": DataBuilder, "loss": Loss, "trainer": Trainer, "evaluator": Evaluator}


def describe_params(params_cls: type) -> list[dict[str, Any]]:
    """Name, type, default and help of each param, for `plugins show` and docs."""
    hints = typing.get_type_hints(params_cls)
    rows = []
    for f in dataclasses.fields(params_cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        rows.append(
            {
                "name": f.name,
                "type": _type_name(hints.get(f.name, Any)),
                "default": default,
                "help": f.metadata.get("help", ""),
            }
        )
    return rows


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")
