"""LocalHub fixtures for the push tests (tests/test_cli_hub.py, tests/test_gate.py): a server with two users and
an org, their token files, no saved token, a client environment; loaded by conftest.py's `pytest_plugins`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from huggingface_hub import constants

from hubembed.cli import cli
from hubembed.testing import LocalHub

ALICE, BOB, WRONG = "hf_alice_0123456789abcdef", "hf_bob_0123456789abcdef", "hf_wrong_0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub")) as hub:
        hub.add_user("alice", ALICE, orgs=["team"])
        hub.add_user("bob", BOB)
        yield hub


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("tokens")
    for name, token in (("alice", ALICE), ("bob", BOB), ("wrong", WRONG)):
        (folder / name).write_text(token + "\n")
    return SimpleNamespace(alice=str(folder / "alice"), bob=str(folder / "bob"), wrong=str(folder / "wrong"))


@pytest.fixture(scope="module")
def no_saved_token(tmp_path_factory):
    """No HF_TOKEN and no `hf auth login` token: only what a test passes counts."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HF_TOKEN", raising=False)
        mp.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        mp.setattr(constants, "HF_TOKEN_PATH", str(tmp_path_factory.mktemp("home") / "token"))
        yield


@pytest.fixture
def client(server, no_saved_token, monkeypatch, tmp_path):
    monkeypatch.setenv("HUBEMBED_LOCAL_HUB", str(tmp_path / "localhub"))
    with server.client_env():
        yield server


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)
