"""A trainer plugin as `hubembed plugins new trainer` writes it, unedited, survives kill -9: the core's runner
checkpoints it, and `hubembed train --resume` continues the run to its end."""

from __future__ import annotations

import json

from test_resume import ONE_THREAD, killed_after_checkpoint

from hubembed.scaffold import generate

STEPS = 8


def test_a_scaffolded_trainer_resumes_after_kill_9(run_cli, tiny_model, tmp_path):
    package = generate("trainer", "acme-frozen", tmp_path)[0]
    code = ["--code", str(package / "src" / "hubembed_acme_frozen" / "trainer.py")]  # registered as local.trainer.v1
    out = tmp_path / "frozen"
    stage = tmp_path / f".{out.name}.partial"
    args = ["--plugin", "mnr", "--trainer", "local.trainer", "--model", tiny_model, "--eval", "none",
            "--set", "data.limit=64", "--max-steps", str(STEPS), "--batch-size", "8", "--save-steps", "2",
            "--precision", "fp32", "--set", "training.logging_steps=1", *code, "--output", str(out)]
    killed_after_checkpoint(args, stage, step=2)
    assert not out.exists()

    resumed = run_cli("train", "--resume", str(out), *code, env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from checkpoint-" in resumed.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["steps"] == STEPS and metrics["train"]["resumed_from"].startswith("checkpoint-")
    assert [e["step"] for e in metrics["train"]["log_history"] if "loss" in e] == list(range(1, STEPS + 1))
    assert not stage.exists()  # the finished run moved into place
