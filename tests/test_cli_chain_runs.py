"""The chapter-10 chains end to end through `hubembed train` (real command, tiny model, two steps each): the card
names every data step with its params and stats. (With the real MiniLM: benchmarks/chapter10.py and the README.)"""

from __future__ import annotations

import json

import pytest

FAST = ["--max-steps", "2", "--batch-size", "8", "--eval", "none"]

RUNS = {
    "mnr-hard-negatives": (
        ["--plugin", "mnr", "--data", "nli", "--data", "hard-negatives", "--set", "data.nli.limit=48",
         "--set", "data.hard-negatives.range_min=1", "--set", "data.hard-negatives.range_max=8",
         "--set", "data.hard-negatives.relative_margin=null"],
        ["hubembed.nli.v1", "hubembed.hard-negatives.v1"], "anchors_with_negatives",
    ),
    "cosine-augsbert": (
        ["--plugin", "cosine", "--data", "augsbert", "--set", "data.gold_limit=40", "--set", "data.unlabeled_limit=20",
         "--set", "data.top_k=2", "--set", "data.ce_max_steps=2", "--set", "data.ce_batch_size=8"],
        ["hubembed.augsbert.v1"], "silver_scores",
    ),
    "tsdae-file": (["--plugin", "tsdae", "--data", "SENTENCES"], ["hubembed.denoise.v1"], "words_kept"),
}


@pytest.mark.parametrize("name", RUNS)
def test_chain_trains_and_the_card_names_every_step(name, tiny_model, run_cli, tmp_path):
    args, steps, stat = RUNS[name]
    sentences = tmp_path / "domain.txt"
    sentences.write_text("".join(f"Pump {i} failed at dawn after the valve leaked oil.\n" for i in range(16)))
    args = [str(sentences) if a == "SENTENCES" else a for a in args]
    out = tmp_path / name
    result = run_cli("train", *args, *FAST, "--model", tiny_model, "--output", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [d["name"] for d in metrics["data"]] == steps and stat in metrics["data"][-1]["stats"]
    card = (out / "README.md").read_text()
    for step in steps:
        assert f"`{step}`" in card
    assert stat in card
    run = (out / "hubembed_run.yaml").read_text()
    assert all(step in run for step in steps)
