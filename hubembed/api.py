"""The public plugin API: what a plugin, built-in or third-party, imports from hubembed, in one place.

    from hubembed.api import Loss, Score, DataError, read_files, run_training

- the contract: `Plugin`, `DataBuilder`, `Loss`, `Trainer`, `Evaluator`, their contexts and results, `Flag`,
  `SHAPES`, `TrainingParams`;
- errors a plugin raises: `ConfigError`, `DataError`, `ModelLoadError`, `PluginError` (one line each, shown
  without a traceback);
- data-file readers (`read_files`, `read_rows`, `columns_of`, `read_sentences`, `pick_column`, `FileRows`) and the
  data shipped with hubembed (`NLI_SAMPLE`, `read_nli_sample`, `nli_sample_sentences`, `STSB`, `read_stsb`);
- the run's held-out rows (`HeldOut`, what an evaluator's `hold_out()` returns; `split_held_out`, `bound_held_out`,
  `ranked_texts`: grouped by anchor, in hash order);
- the hardware and the Hub as plugins see them: `resolve_precision("auto")`, `hub_unreachable()` (why the Hub
  cannot be reached, for offline fallbacks, or None);
- the training runner: `train(job, trainer)` trains as a run does (the trainer's own `train()`, else the core's
  runner `run_training(job, overrides)` with `trainer_arguments(job, trainer)`), `training_arguments(job, overrides)`;
- figures for the card (`draw_scatter` into the `ASSETS` folder): what an evaluator's `figures()` draws with;
- testing helpers (`check_plugin`, `tiny_model_path`, `tiny_dataset`, ...), the same as `hubembed.testing`.

Importing it is cheap: torch, sentence-transformers and the test kit load on first use of the names that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from hubembed.bundled import NLI_SAMPLE, STSB, nli_sample_sentences, read_nli_sample, read_stsb
from hubembed.datafiles import (
    FORMATS,
    FileRows,
    columns_of,
    files_in,
    pick_column,
    read_files,
    read_rows,
    read_sentences,
)
from hubembed.errors import ConfigError, DataError, HubembedError, ModelLoadError, PluginError
from hubembed.hardware import resolve_precision
from hubembed.heldout import HeldOut
from hubembed.heldout import bounded as bound_held_out
from hubembed.heldout import ranked as ranked_texts
from hubembed.heldout import split as split_held_out
from hubembed.types import (
    KINDS,
    SBERT_CITATION,
    SHAPES,
    BuildContext,
    DataBuilder,
    EvalContext,
    Evaluator,
    Flag,
    Loss,
    NoParams,
    Plugin,
    Score,
    Trainer,
    TrainingParams,
    TrainJob,
    TrainResult,
    param_help,
    shape_columns,
)

_LAZY = {
    "hub_unreachable": ("hubembed.hub", "unreachable"),  # why the Hub cannot be reached (offline fallbacks), or None
    "hub_offline": ("hubembed.hub", "offline"),
    "run_training": ("hubembed.training", "run"),
    "training_arguments": ("hubembed.training", "arguments"),
    "train": ("hubembed.training", "train"),  # how a run trains a trainer plugin (its own train(), else the runner)
    "trainer_arguments": ("hubembed.training", "trainer_arguments"),
    "draw_scatter": ("hubembed.plots", "scatter"),  # figures an evaluator draws for the card
    "ASSETS": ("hubembed.plots", "ASSETS"),
}
_TESTING = (
    "build_tiny_model", "tiny_model_path", "tiny_rows", "tiny_dataset", "tiny_dataset_dict", "write_tiny_file",
    "check_plugin", "check_data_builder", "check_loss", "check_trainer", "check_evaluator", "check_registered",
    "CheckReport", "ContractError", "LocalHub",
)

__all__ = [
    "BuildContext", "ConfigError", "DataBuilder", "DataError", "EvalContext", "Evaluator", "FORMATS", "FileRows",
    "Flag", "HeldOut", "HubembedError", "KINDS", "Loss", "ModelLoadError", "NLI_SAMPLE", "NoParams", "Plugin", "PluginError",
    "SBERT_CITATION", "SHAPES", "STSB", "Score", "TrainJob", "TrainResult", "Trainer", "TrainingParams",
    "columns_of", "files_in", "nli_sample_sentences", "param_help", "pick_column", "read_files", "read_nli_sample",
    "read_rows", "read_sentences", "read_stsb", "resolve_precision", "shape_columns", "create_plugin",
    "split_held_out", "bound_held_out", "ranked_texts",
]
__all__ += [*_LAZY, *_TESTING]  # loaded on first use (module __getattr__ below)


def create_plugin(kind: str, name: str, params: Any = None) -> Plugin:
    """An instance of an installed plugin by name (`create_plugin("loss", "mnr")`), e.g. a loss a trainer test trains with."""
    from hubembed.registry import registry

    return registry().create(kind, name, params)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
    elif name in _TESTING:
        module, attr = "hubembed.testing", name
    else:
        raise AttributeError(f"module 'hubembed.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
