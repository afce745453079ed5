"""`hubembed plugins new`: the generated packages install with pip, pass their own tests, show up in
`hubembed plugins list`, and (the loss) train the tiny model with `hubembed train --plugin`.

The packages are installed with `pip install --no-deps --no-build-isolation --target DIR` and used through
PYTHONPATH=DIR: a real pip install (wheel built from the pyproject.toml, entry points in the dist-info) that leaves
the project's virtualenv untouched and needs no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubembed.errors import ConfigError, OutputExistsError
from hubembed.scaffold import generate, names
from hubembed.testing import tiny_rows, write_tiny_file

FAST = ["--set", "data.limit=48", "--max-steps", "3", "--batch-size", "16", "--set", "eval.stsb.splits=[validation]"]


@pytest.mark.parametrize(
    "kind, name, owner, expected",
    [
        ("loss", "acme-focal", None, ("hubembed-acme-focal", "hubembed_acme_focal", "acme.focal.v1", "FocalLoss")),
        ("loss", "hubembed-acme-focal-loss", None, ("hubembed-acme-focal-loss", "hubembed_acme_focal_loss", "acme.focal-loss.v1", "FocalLoss")),
        ("data", "faq", "acme", ("hubembed-faq", "hubembed_faq", "acme.faq.v1", "FaqBuilder")),
        ("evaluator", "acme-qa-retrieval", None, ("hubembed-acme-qa-retrieval", "hubembed_acme_qa_retrieval", "acme.qa-retrieval.v1", "QaRetrievalEvaluator")),
    ],
)
def test_names(kind, name, owner, expected):
    n = names(kind, name, owner)
    assert (n.dist, n.package, n.pinned, n.cls) == expected


@pytest.mark.parametrize(
    "kind, name, owner, message",
    [
        ("loss", "focal", None, "has no owner: write OWNER-NAME \\(e.g. acme-focal\\) or pass --owner"),
        ("loss", "hubembed-focal", "hubembed", "reserved for hubembed's built-ins"),
        ("loss", "Acme_Focal!", None, "use lowercase words joined by '-'"),
        ("model", "acme-focal", None, "plugin kind 'model' is unknown"),
    ],
)
def test_bad_names_are_one_line(kind, name, owner, message):
    with pytest.raises(ConfigError, match=message):
        names(kind, name, owner)


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "hubembed-acme-focal").mkdir()
    (tmp_path / "hubembed-acme-focal" / "mine.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="already exists; choose another --dir or remove it"):
        generate("loss", "acme-focal", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["hubembed-acme-focal"]  # no staging folder left behind
    assert (tmp_path / "hubembed-acme-focal" / "mine.txt").read_text() == "keep me"


def pip_install_target(packages: list[Path], target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--target", str(target), *map(str, packages)],
        check=True, capture_output=True, text=True, timeout=300,
    )


def test_generated_packages_install_pass_their_tests_list_and_train(run_cli, tiny_model, tmp_path):
    # the CLI, as an author would run it
    made = run_cli("plugins", "new", "loss", "acme-focal", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert "loss plugin acme.focal.v1, class FocalLoss" in made.stdout and "pip install -e" in made.stdout
    packages = [tmp_path / "hubembed-acme-focal"]
    for kind, name in (("data", "acme-faq"), ("trainer", "acme-frozen"), ("evaluator", "acme-qa")):
        packages.append(generate(kind, name, tmp_path)[0])

    site = tmp_path / "site"
    pip_install_target(packages, site)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}

    # their own tests (contract checks through the hubembed pytest plugin, plus each plugin's own), all pass
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *[str(p / "tests") for p in packages]],
        cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "13 passed" in tests.stdout

    listed = run_cli("plugins", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)["plugins"]}
    for kind, name, dist in (("loss", "acme.focal.v1", "hubembed-acme-focal"), ("data", "acme.faq.v1", "hubembed-acme-faq"),
                             ("trainer", "acme.frozen.v1", "hubembed-acme-frozen"), ("evaluator", "acme.qa.v1", "hubembed-acme-qa")):
        assert (rows[name]["kind"], rows[name]["distribution"], rows[name]["version"], rows[name]["status"]) == (kind, dist, "0.1.0", "ok")

    # `hubembed train --plugin acme.focal` trains the tiny model, here with all four generated plugins in one run
    faq = tmp_path / "faq.jsonl"
    rows = tiny_rows("pair", n=48)
    faq.write_text("".join(json.dumps({"query": q, "answer": a}) + "\n" for q, a in zip(rows["anchor"], rows["positive"])))
    pairs = write_tiny_file("pair", tmp_path / "pairs.csv", n=64, seed=1)
    out = tmp_path / "runs" / "acme"
    trained = run_cli("train", "--plugin", "acme.focal", "--data", "acme.faq", "--set", f"data.path={faq}",
                      "--trainer", "acme.frozen", "--eval", "stsb", "--eval", f"acme.qa:{pairs}", "--model", tiny_model,
                      "--output", str(out), "--max-steps", "3", "--batch-size", "16", "--set", "eval.stsb.splits=[validation]", env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"][0]["name"] == "acme.faq.v1" and metrics["data"][0]["examples"] == 48
    assert {s["task"] for s in metrics["scores"]["trained"]} == {"STSB", "qa"}
    assert metrics["train"]["steps"] == 3
    assert metrics["requirements"] == ["hubembed==" + metrics["hubembed_version"]] + [
        f"hubembed-acme-{x}==0.1.0" for x in ("faq", "focal", "frozen", "qa")]
    card = (out / "README.md").read_text()
    for name in ("acme.faq.v1", "acme.focal.v1", "acme.frozen.v1", "acme.qa.v1"):
        assert name in card
    assert "hubembed-acme-focal" in card and "0.1.0" in card  # name, distribution and version on the card
    reqs = run_cli("plugins", "list", "--requirements", "--config", str(out / "hubembed_run.yaml"))
    assert reqs.stdout.split() == metrics["requirements"]  # recorded in the run file, so no install needed to read it
