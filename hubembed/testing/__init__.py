"""What plugin authors (and hubembed's own tests) need to test a plugin, offline and in seconds.

- `build_tiny_model(folder)`: a tiny BERT sentence-transformer built locally (`tiny_model_path()`: one per process;
  `python -m hubembed.testing.tiny DIR` from a shell).
- `tiny_rows` / `tiny_dataset` / `tiny_dataset_dict` / `write_tiny_file`: tiny data of every column shape, real text.
- `check_data_builder`, `check_loss`, `check_trainer`, `check_evaluator` (`check_plugin` picks by kind): the
  contract checks, which run a plugin the way a hubembed run will; `ContractError` when it breaks the contract.
- `LocalHub`: a Hub-compatible HTTP server on 127.0.0.1 for tests that push or pull.
- pytest fixtures (`hubembed_tiny_model`, `hubembed_tiny_dataset`, `hubembed_check`, `hubembed_local_hub`) come
  from the `hubembed` pytest plugin, registered when hubembed is installed.

Importing this package is cheap: the names load their modules (and torch) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_tiny_model": "hubembed.testing.tiny",
    "tiny_model_path": "hubembed.testing.checks",
    "tiny_rows": "hubembed.testing.tinydata",
    "tiny_dataset": "hubembed.testing.tinydata",
    "tiny_dataset_dict": "hubembed.testing.tinydata",
    "write_tiny_file": "hubembed.testing.tinydata",
    "check_plugin": "hubembed.testing.checks",
    "check_data_builder": "hubembed.testing.checks",
    "check_loss": "hubembed.testing.checks",
    "check_trainer": "hubembed.testing.checks",
    "check_evaluator": "hubembed.testing.checks",
    "check_registered": "hubembed.testing.checks",
    "CheckReport": "hubembed.testing.checks",
    "ContractError": "hubembed.testing.checks",
    "LocalHub": "hubembed.localhub",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hubembed.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
