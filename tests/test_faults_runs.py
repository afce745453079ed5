"""Runs and files (issue #11): one run per output folder, a trained model never lost to what comes after it,
Ctrl-C, a full or read-only disk, damaged checkpoints. The cases run the real `hubembed train` in a subprocess (real
SIGINT / SIGKILL); full and read-only disks are real tmpfs mounts (root only: skipped elsewhere)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faults import Case, run_case, whole_json

FAST = ("--set", "data.limit=48", "--batch-size", "16", "--eval", "none", "--precision", "fp32")
TRAIN = ("train", "--plugin", "mnr", "--model", "{tiny}", *FAST)
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # the tiny model on a busy 2-core machine

README_DIR_TRAINER = '''
from hubembed_plugins.trainers.full import FullTrainer


class ReadmeDirTrainer(FullTrainer):
    """Saves the model, then leaves a folder where the card goes: the card cannot be written."""

    name = "local.readme_dir.v1"

    def save(self, job, folder):
        facts = super().save(job, folder)
        (folder / "README.md").mkdir()
        return facts
'''

DATED_LOSS = '''
from dataclasses import dataclass, field
from datetime import datetime

from hubembed_plugins.losses.mnr import MNRLoss


@dataclass(frozen=True)
class Params:
    scale: float = 20.0
    gather_across_devices: bool = True
    since: datetime = field(default=datetime(2024, 1, 1))  # YAML can write it; JSON (the card) cannot


class DatedMNR(MNRLoss):
    name = "local.dated_mnr.v1"
    summary = "MNR with a date param"
    Params = Params
'''


def _mount_tmpfs(where: Path, options: str) -> None:
    """A real small (or read-only) file system at `where`; unmounted by the `unmount` fixture."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")


@pytest.fixture(autouse=True)
def unmount(tmp_path):
    yield
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1]
        if point.startswith(str(tmp_path)):
            subprocess.run(["umount", "-l", point], check=False)


CASES = [
    Case("existing-output-without-overwrite", (*TRAIN, "--max-steps", "3", "--output", "{data}"), files={"old.txt": "kept"},
         line=r"^error: output .*/data already holds a run; pass --overwrite to replace it or choose another --output$",
         present=("{data}/old.txt",), absent=("{tmp}/.data.partial",)),
    Case("output-is-a-file", (*TRAIN, "--max-steps", "3", "--output", "{data}/taken"), files={"taken": "x"},
         line=r"^error: output .*/taken is a file; choose another --output$", absent=("{data}/.taken.partial",)),
    Case("output-parent-is-a-file", (*TRAIN, "--max-steps", "3", "--output", "{data}/taken/out"), files={"taken": "x"},
         line=r"^error: cannot write --output .*/taken/out: .*/taken is a file, not a folder; choose another --output$"),
    Case("output-on-a-read-only-file-system", (*TRAIN, "--max-steps", "3", "--output", "{tmp}/ro/out"),
         setup=lambda tmp: _mount_tmpfs(tmp / "ro", "ro,size=64k"),
         line=r"^error: cannot write --output .*/ro/out: .*/ro is on a read-only file system; choose another --output$"),
    Case("disk-full-while-saving", (*TRAIN, "--max-steps", "3", "--output", "{tmp}/small/out"),
         setup=lambda tmp: _mount_tmpfs(tmp / "small", "size=200k"),
         line=r"^error: no space left on .*/small: free space or choose another --output$",
         absent=("{tmp}/small/out", "{tmp}/small/.out.partial", "{tmp}/small/.out.lock")),
    Case("card-cannot-be-written", (*TRAIN, "--max-steps", "3", "--code", "{data}/readme_dir.py", "--trainer",
                                    "local.readme_dir.v1", "--output", "{tmp}/out"),
         files={"readme_dir.py": README_DIR_TRAINER},
         line=r"^error: the trained model is saved in .*/out, but its card could not be written \(IsADirectoryError: .*\); "
              r"fix that, then write the card with `hubembed eval .*/out`$",
         present=("{tmp}/out/model.safetensors", "{tmp}/out/hubembed_run.yaml", "{tmp}/out/metrics.json"),
         absent=("{tmp}/.out.partial", "{tmp}/.out.lock")),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_run_faults(case, run_cli, tmp_path, tiny_model):
    run_case(case, run_cli, tmp_path, tiny_model)
    if case.id == "card-cannot-be-written":  # what is in the output folder is the trained model, and it loads
        import json

        from sentence_transformers import SentenceTransformer

        assert json.loads((tmp_path / "out" / "metrics.json").read_text())["train"]["steps"] == 3
        assert SentenceTransformer(str(tmp_path / "out"), device="cpu").encode(["hello"]).shape == (1, 32)
        # the printed command finishes the job once the cause is gone
        (tmp_path / "out" / "README.md").rmdir()
        finished = run_cli("eval", str(tmp_path / "out"))
        assert finished.returncode == 0, finished.stderr
        assert "fine-tuned with the **hubembed.mnr.v1** loss plugin" in (tmp_path / "out" / "README.md").read_text()


def test_params_json_cannot_encode_are_refused_before_any_work(run_cli, tiny_model, tmp_path):
    """A Params field the card's JSON cannot carry: the registry refuses the plugin when it loads, not after training."""
    (tmp_path / "dated.py").write_text(DATED_LOSS)
    out = tmp_path / "out"
    result = run_cli("train", "--code", str(tmp_path / "dated.py"), "--plugin", "local.dated_mnr.v1", "--model",
                     tiny_model, *FAST, "--max-steps", "3", "--output", str(out), env=ONE_THREAD)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "param since: datetime cannot be written" in lines[0], result.stderr
    assert not out.exists() and not (tmp_path / ".out.partial").exists()


STATS_LOSS = '''
import numpy as np

from hubembed_plugins.losses.mnr import MNRLoss


class OddStatsMNR(MNRLoss):
    name = "local.odd_stats.v1"
    summary = "MNR that reports values JSON cannot encode"

    def build(self, model):
        self.stats.update(margin=np.float32(0.25), seen={"a"})
        return super().build(model)
'''


def test_loss_stats_json_cannot_encode_never_cost_the_run(run_cli, tiny_model, tmp_path):
    (tmp_path / "odd.py").write_text(STATS_LOSS)
    out = tmp_path / "out"
    result = run_cli("train", "--code", str(tmp_path / "odd.py"), "--plugin", "local.odd_stats.v1", "--model",
                     tiny_model, *FAST, "--max-steps", "2", "--output", str(out), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    import json

    assert json.loads((out / "metrics.json").read_text())["loss"]["stats"] == {"margin": 0.25, "seen": "{'a'}"}


# --- a live run: a second run into its output, Ctrl-C ----------------------------------------------------------

class Background:
    """`hubembed train ...` running in the background, its stderr collected as it comes."""

    def __init__(self, args: list[str]) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", **ONE_THREAD}
        self.proc = subprocess.Popen([sys.executable, "-m", "hubembed", *args], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.err = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read(256), ""):
            self.err += chunk

    def wait_for(self, ready, what: str, timeout: float = 240) -> None:
        deadline = time.time() + timeout
        while not ready():
            assert self.proc.poll() is None, f"the run ended before {what}:\n{self.err[-3000:]}"
            assert time.time() < deadline, f"no {what} after {timeout} s"
            time.sleep(0.05)

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=120)
        self._reader.join(timeout=10)
        return code


def _error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(("error:", "interrupted:"))]


def test_a_second_run_into_a_live_output_is_refused_and_ctrl_c_keeps_the_checkpoint(run_cli, tiny_model, tmp_path):
    out, stage = tmp_path / "out", tmp_path / ".out.partial"
    args = [a.format(tiny=tiny_model) for a in TRAIN]
    first = Background([*args, "--max-steps", "100000", "--save-steps", "2", "--output", str(out)])
    try:
        first.wait_for((stage / "hubembed_run.yaml").exists, "its staging folder")
        # even with --overwrite, a second run into the same output leaves the live run's folder alone
        second = run_cli(*args, "--max-steps", "3", "--output", str(out), "--overwrite", env=ONE_THREAD, timeout=120)
        assert second.returncode == 2, second.stderr
        assert _error_lines(second.stderr) == [
            f"error: output {out} is in use by a running `hubembed train` (pid {first.proc.pid}); wait for it to end "
            f"or stop it, or choose another --output"], second.stderr
        assert (stage / "hubembed_run.yaml").exists() and not out.exists()
        first.wait_for(lambda: any(stage.glob("checkpoints/checkpoint-*/trainer_state.json")), "a checkpoint")
    finally:
        code = first.stop(signal.SIGINT)
    assert code == 130 and "Aborted!" not in first.err and "Traceback" not in first.err, first.err[-3000:]
    kept = max(stage.glob("checkpoints/checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert _error_lines(first.err) == [f"interrupted: {kept.name} is kept in {stage}: continue with `hubembed train --resume {out}`"]
    assert (kept / "trainer_state.json").exists()  # the one it may have been writing when stopped is gone
    assert not out.exists() and not (tmp_path / ".out.lock").exists()


def test_ctrl_c_before_a_checkpoint_leaves_nothing(tmp_path, tiny_model):
    out, stage = tmp_path / "out", tmp_path / ".out.partial"
    first = Background([*[a.format(tiny=tiny_model) for a in TRAIN], "--max-steps", "100000", "--output", str(out)])
    first.wait_for(lambda: "Training on" in first.err, "training")
    code = first.stop(signal.SIGINT)
    assert code == 130 and "Aborted!" not in first.err and "Traceback" not in first.err, first.err[-3000:]
    assert _error_lines(first.err) == ["interrupted: nothing was written to the output folder"]
    assert not out.exists() and not stage.exists() and not (tmp_path / ".out.lock").exists()


# --- kill -9, then --resume; damaged checkpoints ----------------------------------------------------------------

RESUMABLE = ("--max-steps", "6", "--save-steps", "1", "--save-total-limit", "3")


@pytest.fixture(scope="module")
def killed_run(tiny_model, tmp_path_factory) -> Path:
    """The folder of a run SIGKILLed after its second checkpoint: `.out.partial` (and the lock it could not remove)."""
    folder = tmp_path_factory.mktemp("killed")
    args = [a.format(tiny=tiny_model) for a in TRAIN]
    run = Background([*args, *RESUMABLE, "--output", str(folder / "out")])
    state = folder / ".out.partial" / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    run.wait_for(lambda: whole_json(state), "checkpoint-2")
    run.stop(signal.SIGKILL)
    return folder


def _copy_killed(killed: Path, tmp: Path) -> list[Path]:
    """The killed run, copied into `tmp` (its lock file too, if any); its complete checkpoints, oldest first."""
    shutil.copytree(killed / ".out.partial", tmp / ".out.partial")
    if (killed / ".out.lock").exists():
        shutil.copy(killed / ".out.lock", tmp / ".out.lock")
    found = [p for p in (tmp / ".out.partial" / "checkpoints").glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_kill_9_then_resume_continues_the_run(killed_run, run_cli, tmp_path):
    import json

    _copy_killed(killed_run, tmp_path)
    result = run_cli("train", "--resume", str(tmp_path / "out"), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert "resuming from checkpoint-" in result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 6 and metrics["train"]["resumed_from"].startswith("checkpoint-")
    assert not (tmp_path / ".out.partial").exists() and not (tmp_path / "out" / "checkpoints").exists()


def test_resume_falls_back_from_a_truncated_last_checkpoint(killed_run, run_cli, tmp_path):
    import json

    checkpoints = _copy_killed(killed_run, tmp_path)
    damaged, previous = checkpoints[-1], checkpoints[-2]
    _cut_short(damaged / "model.safetensors")
    result = run_cli("train", "--resume", str(tmp_path / "out"), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert (f"{damaged.name} is damaged (model.safetensors is cut short): removed it; resuming from {previous.name}"
            in result.stderr), result.stderr
    assert "which is no longer running: taking it over" in result.stderr  # the lock the SIGKILLed run left
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["train"]["resumed_from"] == previous.name and metrics["train"]["steps"] == 6


def test_resume_refuses_when_every_checkpoint_is_truncated(killed_run, run_cli, tmp_path, tiny_model):
    def only_a_damaged_checkpoint(tmp: Path) -> None:
        *older, last = _copy_killed(killed_run, tmp)
        for path in older:
            shutil.rmtree(path)
        _cut_short(last / "optimizer.pt")

    run_case(Case(
        "every-checkpoint-truncated", ("train", "--resume", "{tmp}/out"), setup=only_a_damaged_checkpoint, env=ONE_THREAD,
        line=r"^error: checkpoint-\d+ of the interrupted run in .*/\.out\.partial is damaged \(optimizer\.pt is cut short\) "
             r"and no earlier checkpoint is intact; start it over with `hubembed train --config .*/\.out\.partial/"
             r"hubembed_run\.yaml --overwrite`$",
        present=("{tmp}/.out.partial/hubembed_run.yaml",), absent=("{tmp}/out",),
    ), run_cli, tmp_path, tiny_model)


def test_the_lock_refuses_while_its_holder_lives_and_is_taken_over_once_it_is_killed(tmp_path):
    from hubembed.errors import OutputExistsError
    from hubembed.outputs import lock_file, output_lock

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from hubembed.outputs import output_lock\n"
        f"with output_lock(Path({str(out)!r}), print):\n    print('locked', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputExistsError, match=rf"in use by a running `hubembed train` \(pid {holder.pid}\)"):
            with output_lock(out, print):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, the lock file stays behind
        holder.wait()
        holder.stdout.close()
    assert lock_file(out).exists()
    said: list[str] = []
    with output_lock(out, said.append):
        assert lock_file(out).read_text().strip() == str(os.getpid())
    assert said == [f"The lock of {out} was held by pid {holder.pid}, which is no longer running: taking it over"]
    assert not lock_file(out).exists()
