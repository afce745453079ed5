"""The `hubembed` command end to end: plugins listing, a full tiny run, and one clear line for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

FAST = ["--set", "data.limit=48", "--max-steps", "3", "--batch-size", "16", "--set", "eval.stsb.splits=[validation]"]


def test_help_and_plugins_list_do_not_import_torch():
    code = (
        "import sys; from click.testing import CliRunner; from hubembed.cli import cli; r = CliRunner();"
        "assert r.invoke(cli, ['--help']).exit_code == 0; out = r.invoke(cli, ['plugins', 'list']);"
        "assert out.exit_code == 0, out.output; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'datasets') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugins_list_json_lists_every_builtin(run_cli):
    result = run_cli("plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)["plugins"]}
    for name, kind in [("hubembed.nli.v1", "data"), ("hubembed.pairs.v1", "data"), ("hubembed.mnr.v1", "loss"),
                       ("hubembed.cosine.v1", "loss"), ("hubembed.softmax.v1", "loss"), ("hubembed.full.v1", "trainer"),
                       ("hubembed.stsb.v1", "evaluator")]:
        assert rows[name]["kind"] == kind and rows[name]["distribution"] == "hubembed" and rows[name]["version"]
        assert rows[name]["status"] == "ok"


def test_plugins_show(run_cli):
    result = run_cli("plugins", "show", "mnr")
    assert result.returncode == 0, result.stderr
    assert "hubembed.mnr.v1" in result.stdout and "scale: float = 20.0" in result.stdout
    assert "triplet (anchor, positive, negative); pair (anchor, positive)" in result.stdout
    shown = json.loads(run_cli("plugins", "show", "nli", "--json").stdout)
    assert shown["consumes"] is None and "triplet" in shown["produces"]
    assert {p["name"] for p in shown["params"]} == {"source", "subset", "split", "limit"}


def test_train_end_to_end_with_the_tiny_model(run_cli, tiny_model, tmp_path):
    from huggingface_hub import ModelCard
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "runs" / "tiny-mnr"
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--output", str(out), *FAST)
    assert result.returncode == 0, result.stderr
    assert "STS Benchmark (validation)" in result.stdout and "->" in result.stdout
    assert f"hubembed train --config {out}/hubembed_run.yaml" in result.stdout
    assert "bundled MultiNLI/SNLI sample" in result.stderr  # the offline fallback is said, not silent
    for name in ("hubembed_run.yaml", "metrics.json", "README.md", "modules.json", "model.safetensors"):
        assert (out / name).exists(), name
    assert not list(out.parent.glob(".*partial"))

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 3 and metrics["train"]["samples_per_s"] > 0
    card = ModelCard.load(out / "README.md")
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    trained = {(s["split"], s["metric"]): round(s["value"], 4) for s in metrics["scores"]["trained"]}
    assert results == trained
    assert card.data.library_name == "sentence-transformers" and "hubembed.mnr.v1" in card.data.tags
    assert "hubembed" in card.data.tags
    assert SentenceTransformer(str(out)).encode(["hello"]).shape == (1, 32)

    # the run file reproduces the run
    again = run_cli("train", "--config", str(out / "hubembed_run.yaml"), "--output", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["data"][0]["fingerprint"] == metrics["data"][0]["fingerprint"]

    # an existing run is kept unless --overwrite
    refused = run_cli("train", "--config", str(out / "hubembed_run.yaml"))
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert (out / "model.safetensors").exists()


@pytest.mark.parametrize("loss", ["softmax", "cosine"])
def test_other_losses_run_end_to_end(run_cli, tiny_model, tmp_path, loss):
    result = run_cli("train", "--plugin", loss, "--model", tiny_model, "--output", str(tmp_path / loss), *FAST)
    assert result.returncode == 0, result.stderr
    run = (tmp_path / loss / "hubembed_run.yaml").read_text()
    assert f"hubembed.{loss}.v1" in run


def bad(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("args, message", [
    (["--plugin", "mrn"], "unknown loss plugin 'mrn': did you mean 'mnr'?"),
    (["--plugin", "mnr", "--trainer", "fulll"], "did you mean 'full'"),
    (["--plugin", "mnr", "--set", "loss.temp=1"], "unknown param(s) temp"),
    (["--plugin", "mnr", "--set", "nope=1"], "--set nope: unknown key"),
    (["--plugin", "mnr", "--data", "missing.csv"], "--data missing.csv: no such file or folder"),
    (["--plugin", "mnr", "--model", "./no-such-model-dir-or-repo"], "model folder ./no-such-model-dir-or-repo does not exist"),
    ([], "no loss chosen: pass --plugin NAME"),
])
def test_bad_input_is_one_line_exit_2(run_cli, tmp_path, args, message):
    out = tmp_path / "out"
    result = run_cli("train", *args, "--output", str(out))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / ".out.partial").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is valid on a GPU")
@pytest.mark.parametrize("command", [["train", "--plugin", "mnr"], ["eval", "sentence-transformers/all-MiniLM-L6-v2"]])
def test_fp16_on_a_cpu_fails_before_any_work(run_cli, tmp_path, command):
    out = tmp_path / "out"
    result = run_cli(*command, "--precision", "fp16", *(["--output", str(out)] if command[0] == "train" else []))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: fp16 needs a GPU; on this CPU use --precision bf16 or fp32"
    assert not out.exists() and not (tmp_path / ".out.partial").exists()


@pytest.mark.parametrize("name, text, message", [
    ("scored.csv", "sentence1,sentence2,score\na,b,0.5\n", "loss mnr trains on n-tuple/triplet/pair data"),
    ("cols.csv", "question,answer\na,b\n", "fit no shape"),
    ("empty.csv", "anchor,positive\n", "has no rows"),
    ("zero-bytes.csv", "", "is empty; give it a header row"),
    ("labels.csv", "premise,hypothesis,label\na,b,5\n", "label '5' is not an NLI label"),
    ("binary.parquet", "not parquet", "cannot read"),
])
def test_bad_data_files(run_cli, tmp_path, tiny_model, name, text, message):
    out = tmp_path / "out"
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--data", bad(tmp_path, name, text), "--output", str(out))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not (tmp_path / ".out.partial").exists()


def test_debug_shows_the_traceback(run_cli, tmp_path):
    result = run_cli("train", "--plugin", "mrn", env={"HUBEMBED_DEBUG": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr


GUIDED_LOSS = '''
from dataclasses import dataclass, field

from hubembed.types import Loss


@dataclass(frozen=True)
class Params:
    guide: str = field(default="acme/guide-model", metadata={"help": "the model that guides the negatives"})


class GuidedLoss(Loss):
    name = "acme.guided.v1"
    summary = "MNR that names its guide model on the card"
    Params = Params
    expects = ("triplet", "pair")
    in_batch_negatives = True

    def build(self, model):
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        self.stats.update(guide=self.params.guide, guide_revision="0123456789abcdef")
        return MultipleNegativesRankingLoss(model)
'''


def test_a_loss_reports_stats_to_metrics_and_the_card(run_cli, tiny_model, tmp_path):
    code = tmp_path / "guided.py"
    code.write_text(GUIDED_LOSS)
    out = tmp_path / "guided"
    result = run_cli("train", "--code", str(code), "--plugin", "acme.guided", "--data", "nli", "--model", tiny_model,
                     "--output", str(out), *FAST)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["loss"] == {"name": "acme.guided.v1",
                               "stats": {"guide": "acme/guide-model", "guide_revision": "0123456789abcdef"}}
    card = (out / "README.md").read_text()
    assert "The loss `acme.guided.v1` reported: guide: acme/guide-model; guide_revision: 0123456789abcdef." in card
