"""pytest fixtures for plugin authors, registered through the `pytest11` entry point when hubembed is installed.

    def test_contract(hubembed_check):
        hubembed_check(FocalLoss)                       # the contract check of its kind, on the tiny model

    def test_focus(hubembed_tiny_model, hubembed_tiny_dataset):
        model = SentenceTransformer(hubembed_tiny_model)
        ds = hubembed_tiny_dataset("triplet", n=16)

Fixtures: `hubembed_tiny_model` (session: path of the tiny BERT), `hubembed_tiny_dataset` (a function
`(shape, n=32, seed=0) -> datasets.Dataset`), `hubembed_check` (a function `(plugin, **kwargs) -> CheckReport`
with the tiny model and a temporary folder filled in), `hubembed_local_hub` (a started LocalHub on 127.0.0.1).

This module imports only pytest at load time, so it costs nothing in test runs that do not use it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest


@pytest.fixture(scope="session")
def hubembed_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path (str) of a tiny BERT sentence-transformer built locally once per test session."""
    from hubembed.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("hubembed-tiny") / "tiny-bert")


@pytest.fixture
def hubembed_tiny_dataset() -> Callable[..., Any]:
    """`hubembed_tiny_dataset("pair-score", n=16)` -> a datasets.Dataset of that shape, real text."""
    from hubembed.testing.tinydata import tiny_dataset

    return tiny_dataset


@pytest.fixture
def hubembed_check(hubembed_tiny_model: str, tmp_path: Any) -> Callable[..., Any]:
    """`hubembed_check(PluginClass_or_name, params={...})` runs the contract check of the plugin's kind."""
    from hubembed.testing.checks import check_plugin

    def check(plugin: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("model", hubembed_tiny_model)
        kwargs.setdefault("workdir", tmp_path / "hubembed-check")
        return check_plugin(plugin, **kwargs)

    return check


@pytest.fixture
def hubembed_local_hub() -> Iterator[Any]:
    """A Hub-compatible server on 127.0.0.1 (see hubembed.localhub.LocalHub); stopped afterwards."""
    from hubembed.localhub import LocalHub

    with LocalHub() as hub:
        yield hub
