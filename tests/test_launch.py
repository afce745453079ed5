"""`hubembed train --num-processes N`: the same resolved run relaunched under `accelerate launch` (two gloo ranks on
this CPU); rank 0 alone evaluates and writes the output; the card's metrics record the global batch; a count or a
batch that cannot work is one line."""

from __future__ import annotations

import json
import os
import sys

FAST = ["--set", "data.limit=64", "--max-steps", "3", "--batch-size", "8", "--set", "eval.stsb.splits=[validation]"]


def test_two_processes_train_one_model(run_cli, tiny_model, tmp_path):
    out = tmp_path / "mp"
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--num-processes", "2", "--output", str(out), *FAST)
    assert result.returncode == 0, result.stderr
    assert "Launching the run with accelerate (2 processes)" in result.stderr
    assert "on 2 processes (global batch 16)" in result.stderr
    # rank 0 alone evaluates and reports; the launcher prints the summary once
    assert result.stderr.count("Evaluating the base model") == 1 and result.stderr.count("Evaluating the trained model") == 1
    assert result.stdout.count("Done in") == 1 and "STS Benchmark (validation)" in result.stdout

    metrics = json.loads((out / "metrics.json").read_text())
    train = metrics["train"]
    assert train["processes"] == 2 and train["per_process_batch_size"] == 8 and train["global_batch_size"] == 16
    assert train["negatives_per_anchor"] == 16 * 2 - 1  # every positive and hard negative of both ranks but its own
    assert train["steps"] == 3 and train["samples"] == 3 * 16
    assert metrics["weights"]["format"] == "full"
    # the held-out split is scored during training (rank 0 evaluates, every rank learns the result) and the best kept
    assert metrics["held_out"]["rows"] > 0 and 1 <= train["kept_step"] <= 3 and train["eval_s"] > 0
    assert (out / "model.safetensors").exists() and (out / "README.md").exists()
    assert not list(tmp_path.glob(".*partial")) and not (out / "checkpoints").exists()


def test_impossible_process_counts_and_batches_are_one_line(run_cli, tiny_model, tmp_path):
    out = tmp_path / "bad"
    too_many = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--num-processes", str((os.cpu_count() or 1) + 1),
                       "--output", str(out), *FAST)
    assert too_many.returncode == 2 and "CPU cores here; use at most" in too_many.stderr, too_many.stderr
    zero = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--num-processes", "0", "--output", str(out))
    assert zero.returncode == 2 and "must be at least 1" in zero.stderr
    no_file = run_cli("train", "--plugin", "mnr", "--accelerate-config", str(tmp_path / "none.yaml"), "--output", str(out))
    assert no_file.returncode == 2 and "does not exist" in no_file.stderr
    for result in (too_many, zero, no_file):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

    # an error inside the ranks comes back as the launcher's one line, without torchrun's failure report
    small = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--num-processes", "2", "--output", str(out),
                    "--set", "data.limit=12", "--batch-size", "8", "--max-steps", "3", "--no-held-out")
    assert small.returncode == 2, small.stderr
    errors = [line for line in small.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: 2 processes x batch 8 need 16 examples per step but the data has 12; "
                      "lower --num-processes or --batch-size, or use more data"]
    assert "ChildFailedError" not in small.stderr and "Traceback" not in small.stderr
    assert not out.exists() and not list(tmp_path.glob(".*partial"))

    # rank 0 stops while building the data (too few rows to hold out): the waiting rank's broken barrier is not said
    few = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--num-processes", "2", "--output", str(out),
                  "--set", "data.limit=12", "--batch-size", "4", "--max-steps", "3")
    assert few.returncode == 2, few.stderr
    assert [line for line in few.stderr.splitlines() if line.startswith("error:")] == [
        "error: the data has 12 distinct anchor texts, too few to hold out 8 for the in-domain evaluation (at least 16 "
        "are needed); give held-out rows with --eval-data FILE, or train on every row with --no-held-out"]


def test_launch_command_line(tmp_path):
    from hubembed import launch

    cpu = launch.command(["hubembed", "train", "--config", "run.yaml"], 2, None, port=29999)
    assert cpu[:4] == [sys.executable, "-m", "accelerate.commands.launch", "--quiet"]
    assert cpu[cpu.index("--num_processes") + 1] == "2" and "--multi_gpu" in cpu and "--cpu" not in cpu
    assert cpu[cpu.index("--main_process_port") + 1] == "29999"
    assert cpu[-5:] == ["-m", "hubembed", "train", "--config", "run.yaml"]

    config = tmp_path / "fsdp.yaml"
    config.write_text("distributed_type: FSDP\n")
    with_file = launch.command(["hubembed", "train"], None, str(config))
    assert with_file[with_file.index("--config_file") + 1] == str(config)
    assert "--multi_gpu" not in with_file and "--num_processes" not in with_file
    assert launch.command(["script.py"], 2, str(config), module=False)[-3:] == ["--num_processes", "2", "script.py"]
    assert 1024 <= launch.free_port() <= 65535


def test_only_global_rank_zero_is_the_main_process(monkeypatch):
    """One `is_main_process` for saving and pushing: RANK decides; LOCAL_RANK (0 once per machine) never does."""
    import pytest

    from hubembed import launch
    from hubembed.errors import ConfigError

    for var in ("RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert launch.is_main_process() and launch.rank() == 0
    monkeypatch.setenv("LOCAL_RANK", "1")  # no RANK: in no process group, so on its own
    assert launch.is_main_process()
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "0")  # rank 0 of its machine, not of the run
    assert not launch.is_main_process() and launch.rank() == 3
    monkeypatch.setenv("RANK", "")
    assert launch.is_main_process()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ConfigError, match="RANK='one' is not a whole number"):
        launch.is_main_process()
