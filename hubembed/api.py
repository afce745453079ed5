"""The public plugin API: what a plugin, built-in or third-party, imports from hubembed, in one place.

    from hubembed.api import Loss, Score, DataError, read_files, run_training

- the contract: `Plugin`, `DataBuilder`, `Loss`, `Trainer`, `Evaluator`, their contexts and results, `Flag`,
  `SHAPES`, `TrainingParams`;
- errors a plugin raises: `ConfigError`, `DataError`, `PluginError` (one line each, shown without a traceback);
- data-file readers (`read_files`, `read_rows`, `columns_of`, `read_sentences`, `pick_column`) and the data
  shipped with hubembed (`NLI_SAMPLE`, `STSB`, `read_stsb`);
- the training runner (`run_training`, `training_arguments`): what the built-in trainers train with;
- testing helpers (`check_plugin`, `tiny_model_path`, `tiny_dataset`, ...), the same as `hubembed.testing`.

Importing it is cheap: torch, sentence-transformers and the test kit load on first use of the names that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from hubembed.bundled import NLI_SAMPLE, STSB, read_stsb
from hubembed.datafiles import FORMATS, columns_of, files_in, pick_column, read_files, read_rows, read_sentences
from hubembed.errors import ConfigError, DataError, HubembedError, PluginError
from hubembed.types import (
    KINDS,
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
    "run_training": ("hubembed.training", "run"),
    "training_arguments": ("hubembed.training", "arguments"),
}
_TESTING = (
    "build_tiny_model", "tiny_model_path", "tiny_rows", "tiny_dataset", "tiny_dataset_dict", "write_tiny_file",
    "check_plugin", "check_data_builder", "check_loss", "check_trainer", "check_evaluator", "check_registered",
    "CheckReport", "ContractError",
)

__all__ = sorted(
    [
        "NLI_SAMPLE", "STSB", "read_stsb", "FORMATS", "columns_of", "files_in", "pick_column", "read_files",
        "read_rows", "read_sentences", "ConfigError", "DataError", "HubembedError", "PluginError", "KINDS", "SHAPES",
        "BuildContext", "DataBuilder", "EvalContext", "Evaluator", "Flag", "Loss", "NoParams", "Plugin", "Score",
        "Trainer", "TrainingParams", "TrainJob", "TrainResult", "param_help", "shape_columns",
        *_LAZY, *_TESTING,
    ]
)


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
