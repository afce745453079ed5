"""Resume: a run killed after a checkpoint continues with `hubembed train --resume OUTPUT` and ends where an
uninterrupted run ends; resuming what cannot be resumed says so in one line and loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from faults import whole_json

from hubembed.checkpoints import CHECKPOINTS

STEPS = ["--set", "data.limit=96", "--max-steps", "12", "--batch-size", "8", "--save-steps", "4", "--precision", "fp32",
         "--lr", "1e-3", "--set", "training.logging_steps=1", "--set", "eval.stsb.splits=[validation]"]


ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # the tiny model: 2 spinning threads are 5x slower on a busy 2-core machine


def killed_after_checkpoint(args: list[str], stage: Path, step: int = 4) -> None:
    """Start `hubembed train ARGS` and SIGKILL it as soon as checkpoint-STEP is complete (no cleanup can run):
    its trainer_state.json, which the trainer writes last, is there and whole (a kill mid-write leaves it cut short,
    which --resume rightly refuses)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **ONE_THREAD}
    proc = subprocess.Popen([sys.executable, "-m", "hubembed", "train", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    marker = stage / CHECKPOINTS / f"checkpoint-{step}" / "trainer_state.json"
    deadline = time.time() + 300
    while not whole_json(marker):
        if proc.poll() is not None:
            pytest.fail(f"the run ended before checkpoint-{step} could be interrupted: {proc.stderr.read()[-2000:]}")
        assert time.time() < deadline, "no checkpoint after 300 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


def _scores(metrics: dict) -> dict:
    return {(s["split"], s["metric"]): s["value"] for s in metrics["scores"]["trained"]}


def _losses(metrics: dict) -> dict:
    return {e["step"]: e["loss"] for e in metrics["train"]["log_history"] if "loss" in e}


@pytest.mark.parametrize("trainer", ["full", "lora"])
def test_killed_run_resumes_to_the_same_result(trainer, run_cli, tiny_model, tmp_path):
    base = ["--plugin", "mnr", "--model", tiny_model, "--trainer", trainer, *STEPS]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # the uninterrupted run trains beside the one that gets killed (one thread each)
    done = subprocess.Popen([sys.executable, "-m", "hubembed", "train", *base, "--output", str(straight)],
                            env={**os.environ, "HF_HUB_OFFLINE": "1", **ONE_THREAD}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    stage = killed.parent / f".{killed.name}.partial"
    killed_after_checkpoint([*base, "--output", str(killed)], stage)
    assert not killed.exists() and (stage / "hubembed_run.yaml").exists()
    _, err = done.communicate()
    assert done.returncode == 0, err

    if trainer == "full":  # what cannot be resumed is refused, and the interrupted run stays
        # a different config is refused, and the interrupted run is still there
        other = run_cli("train", "--resume", str(killed), "--lr", "5e-4", env=ONE_THREAD)
        assert other.returncode == 2 and "training.lr" in other.stderr and "--overwrite" in other.stderr, other.stderr
        assert len(other.stderr.strip().splitlines()) == 1
        # a new run into the same output does not silently throw the checkpoint away
        fresh = run_cli("train", *base, "--output", str(killed), env=ONE_THREAD)
        assert fresh.returncode == 2 and "--resume" in fresh.stderr, fresh.stderr
        assert (stage / CHECKPOINTS / "checkpoint-4" / "trainer_state.json").exists()

        finished = run_cli("train", "--resume", str(straight), env=ONE_THREAD)
        assert finished.returncode == 2 and "finished run" in finished.stderr, finished.stderr

    resumed = run_cli("train", "--resume", str(killed), env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from checkpoint-" in resumed.stderr
    assert not stage.exists() and not (killed / CHECKPOINTS).exists()

    a = json.loads((straight / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert b["train"]["resumed_from"].startswith("checkpoint-") and a["train"]["resumed_from"] is None
    assert b["train"]["steps"] == a["train"]["steps"] == 12
    assert _scores(b) == pytest.approx(_scores(a), abs=1e-6)
    assert _losses(b) == pytest.approx(_losses(a), rel=1e-5) and len(_losses(a)) == 12
    # the best held-out step survives the interruption: the resumed run keeps the same step
    assert b["train"]["kept_step"] == a["train"]["kept_step"] is not None
    run_a = yaml.safe_load((straight / "hubembed_run.yaml").read_text())
    run_b = yaml.safe_load((killed / "hubembed_run.yaml").read_text())
    assert {**run_a, "output": None} == {**run_b, "output": None}


def test_resume_needs_an_interrupted_run_with_a_checkpoint(run_cli, tiny_model, tmp_path):
    from hubembed import config as cfgmod

    missing = run_cli("train", "--resume", str(tmp_path / "never"), env=ONE_THREAD)
    assert missing.returncode == 2 and "no interrupted run" in missing.stderr, missing.stderr

    # a run killed before its first checkpoint leaves only its run file
    run = cfgmod.resolve(cfgmod.with_defaults(cfgmod.RunConfig(loss=cfgmod.Step("mnr"), model=tiny_model, output=str(tmp_path / "early"))))
    stage = tmp_path / ".early.partial"
    stage.mkdir()
    (stage / "hubembed_run.yaml").write_text(run.to_yaml())
    early = run_cli("train", "--resume", str(tmp_path / "early"), env=ONE_THREAD)
    assert early.returncode == 2, early.stderr
    assert "before its first checkpoint" in early.stderr and len(early.stderr.strip().splitlines()) == 1
    assert (stage / "hubembed_run.yaml").exists()
