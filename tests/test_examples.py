"""The external example package examples/hubembed-matryoshka: installed with pip (CI: `pip install
./examples/hubembed-matryoshka` into the venv; otherwise here, with pip --target into a temporary folder), it
passes its own tests and `hubembed train --plugin matryoshka` trains with it, naming it on the card."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "hubembed-matryoshka"
FAST = ["--set", "data.limit=48", "--max-steps", "3", "--batch-size", "16", "--set", "eval.stsb.splits=[validation]"]


@pytest.fixture(scope="module")
def example_env(tmp_path_factory) -> dict[str, str]:
    """Env for subprocesses that see the example installed: as it is (CI) or from a pip --target folder."""
    env = {"OMP_NUM_THREADS": "1"}
    try:
        md.distribution("hubembed-matryoshka")
        return env
    except md.PackageNotFoundError:
        pass
    site = tmp_path_factory.mktemp("example-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--target", str(site), str(EXAMPLE)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return {**env, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def test_the_example_passes_its_own_tests(example_env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        cwd=tmp_path, env={**os.environ, **example_env}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout


def test_train_with_the_example_plugin(run_cli, example_env, tiny_model, tmp_path):
    listed = run_cli("plugins", "list", "--kind", "loss", env=example_env)
    line = next(line for line in listed.stdout.splitlines() if "examples.matryoshka.v1" in line)
    assert "hubembed-matryoshka 0.1.0" in line and "BROKEN" not in line

    out = tmp_path / "matryoshka"
    result = run_cli("train", "--plugin", "matryoshka", "--model", tiny_model, "--output", str(out),
                     "--set", "loss.dims=[32,16,8]", *FAST, env=example_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "with examples.matryoshka.v1" in result.stderr

    run = (out / "hubembed_run.yaml").read_text()
    assert "name: examples.matryoshka.v1" in run and "distribution: hubembed-matryoshka" in run
    metrics = json.loads((out / "metrics.json").read_text())
    assert "hubembed-matryoshka==0.1.0" in metrics["requirements"]
    card = (out / "README.md").read_text()
    assert "examples.matryoshka.v1" in card and "hubembed-matryoshka" in card and "0.1.0" in card
    assert "kusupati2024matryoshka" in card  # its citation reaches the card

    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(out), truncate_dim=8, device="cpu").encode(["a truncated embedding"]).shape == (1, 8)
