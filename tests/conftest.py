"""Shared fixtures: no network but loopback, a tiny BERT built once per session, the real MiniLM, shared data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
pytest_plugins = ["localhub_fixtures"]  # server, tokens, no_saved_token, client: LocalHub for the push tests

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HUBEMBED_CACHE"] = str(Path(os.environ.get("PYTEST_CACHE_ROOT", "/tmp")) / f"hubembed-test-cache-{os.getpid()}")


def _loopback(host: object) -> bool:
    return isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1"))


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Names other than localhost do not resolve (as offline); connecting anywhere but loopback fails the test."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        assert _loopback(host) or not isinstance(address, tuple), f"test tried to reach {address!r}"
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "tests are offline: only loopback is reachable")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    from hubembed import hub

    hub.clear_probe_cache()
    yield
    hub.clear_probe_cache()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from hubembed.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-bert")


@pytest.fixture(scope="session")
def minilm() -> str:
    from hubembed.models import _pypi_copy

    return _pypi_copy()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} is not here")
    return SHARED_DATA


def hubembed_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real `hubembed` command in a subprocess (exit codes, stderr, no shared state)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hubembed", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def run_cli():
    return hubembed_cli
