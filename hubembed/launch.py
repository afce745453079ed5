"""Multi-process training: re-run the same resolved run under `accelerate launch` (torchrun underneath).

`hubembed train ... --num-processes N` (or `--accelerate-config FILE`) resolves the run, writes its
`hubembed_run.yaml` into the staging folder, and starts `accelerate launch ... -m hubembed train --config <that
file>` with `HUBEMBED_LAUNCHED=1`. Every rank runs the same pipeline; the trainer plugins never know: the
SentenceTransformerTrainer (HF Trainer + accelerate) reads the rank and world size that torchrun put in the
environment. Only rank 0 evaluates, saves, writes the card and moves the output into place.

On a CPU-only machine `--multi_gpu --num_processes N` starts N gloo ranks (`--cpu` with N processes silently runs
one). No torch import at module level.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from hubembed.errors import ConfigError, HubembedError

ENV_LAUNCHED = "HUBEMBED_LAUNCHED"  # set in the ranks hubembed starts: use the staging folder the launcher made
ENV_ERROR_FILE = "HUBEMBED_LAUNCH_ERROR_FILE"  # where rank 0 writes the one-line error of a failed run
LAUNCH_FILE = "launch.json"  # in <stage>/checkpoints: how the interrupted run was launched, for --resume


def world_size() -> int:
    """Processes in this run (torchrun's WORLD_SIZE; 1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank: torchrun's RANK (0 when not launched, or when RANK is empty)."""
    value = os.environ.get("RANK", "").strip()
    try:
        return int(value or "0")
    except ValueError:
        raise ConfigError(f"RANK={value!r} is not a whole number: unset RANK, or start the run with "
                          f"`hubembed train --num-processes N`") from None


def is_main_process() -> bool:
    """True in the one process that evaluates, saves, writes the card and pushes: global rank 0. Only RANK counts:
    LOCAL_RANK is 0 once per machine (a multi-node run would push once per node), and a process with LOCAL_RANK but
    no RANK is in no process group (torch's env:// rendezvous needs RANK), so it is alone and its own main."""
    return rank() == 0


def launched() -> bool:
    """True inside a rank that `hubembed train --num-processes` started."""
    return os.environ.get(ENV_LAUNCHED) == "1"


def wanted(num_processes: int | None, accelerate_config: str | None) -> bool:
    """Whether the run must be relaunched under accelerate (never from inside a launched rank)."""
    return not launched() and (accelerate_config is not None or (num_processes or 1) > 1)


def check(num_processes: int | None, accelerate_config: str | None) -> None:
    """One clear line for a process count that cannot work here (before anything heavy starts)."""
    if accelerate_config is not None and not Path(accelerate_config).is_file():
        raise ConfigError(f"--accelerate-config {accelerate_config} does not exist; write one with `accelerate config --config_file FILE`")
    if num_processes is None:
        return
    if num_processes < 1:
        raise ConfigError(f"--num-processes {num_processes} must be at least 1")
    if accelerate_config is not None:
        return  # multi-node / FSDP / DeepSpeed: the config file knows the machines; accelerate checks it
    gpus = _cuda_devices()
    if gpus:
        if num_processes > gpus:
            raise ConfigError(
                f"--num-processes {num_processes} is more than the {gpus} GPU(s) here; use at most {gpus} "
                f"(or --accelerate-config FILE for several machines)"
            )
    else:
        cores = os.cpu_count() or 1
        if num_processes > cores:
            raise ConfigError(
                f"--num-processes {num_processes} is more than the {cores} CPU cores here; use at most {cores} "
                f"(or --accelerate-config FILE for several machines)"
            )


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def exit_rank(code: int) -> None:
    """End a rank at once, past the interpreter's teardown. Under load, a rank's teardown of its gloo process group
    can abort ("terminate called without an active exception", seen twice in CI); torchrun then stops the other
    ranks, so a rank done with training killed rank 0 while it evaluated and saved. The rank's work is on disk and
    its output flushed here; nothing else is left to run."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def free_port() -> int:
    """A free TCP port on loopback for the rank-0 rendezvous (several runs may share a machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(program: list[str], num_processes: int | None, accelerate_config: str | None, port: int | None = None,
            module: bool = True) -> list[str]:
    """The `accelerate launch` command line that runs `program` (`-m MODULE ARGS...` when `module`, else a script)
    on `num_processes` ranks of this machine, or as the accelerate config file says."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--quiet"]
    if accelerate_config is not None:
        cmd += ["--config_file", str(accelerate_config)]
        if num_processes is not None:
            cmd += ["--num_processes", str(num_processes)]
    else:
        n = num_processes or 1
        # --multi_gpu also means "several local ranks" on a CPU-only machine: gloo, one rank per process.
        cmd += ["--multi_gpu", "--num_processes", str(n), "--num_machines", "1", "--mixed_precision", "no",
                "--dynamo_backend", "no", "--main_process_port", str(port or free_port())]
    if module:
        cmd.append("-m")
    return cmd + list(program)


def run(program: list[str], num_processes: int | None, accelerate_config: str | None, env: dict[str, str] | None = None,
        module: bool = True, keep_fds: tuple[int, ...] = ()) -> int:
    """Run `program` under accelerate, streaming its output here; return the launcher's exit code. `keep_fds`: file
    descriptors the launcher process inherits (the output folder's lock, held while it runs).

    If a rank failed with a HubembedError, that error is raised here (its one line, its exit code) instead of
    torchrun's 'child failed' report, which is shown only with HUBEMBED_DEBUG=1. Interrupted (Ctrl-C), the ranks
    are stopped before the interrupt goes on."""
    import re
    import tempfile

    debug = os.environ.get("HUBEMBED_DEBUG") == "1"
    elastic_failure = re.compile(r"^E\d{4} .*torch/distributed/elastic/.*failed \(exitcode")
    elastic_log = re.compile(r"^[WI]\d{4} [0-9:.]+ \d+ .*torch/distributed/elastic/")  # torchrun's own chatter
    with tempfile.TemporaryDirectory(prefix="hubembed-launch-") as tmp:
        error_file = Path(tmp) / "error.json"
        full_env = {**os.environ, **(env or {}), ENV_LAUNCHED: "1", ENV_ERROR_FILE: str(error_file)}
        full_env.setdefault("TOKENIZERS_PARALLELISM", "false")
        cmd = command(program, num_processes, accelerate_config, module=module)
        with subprocess.Popen(cmd, env=full_env, stdout=None, stderr=subprocess.PIPE, pass_fds=keep_fds) as proc:
            assert proc.stderr is not None
            try:
                _relay(proc.stderr.fileno(), lambda segment: not debug and bool(elastic_failure.match(segment)),
                       lambda segment: not debug and bool(elastic_log.match(segment)))
            except BaseException:
                _stop(proc)
                raise
        if proc.returncode != 0 and error_file.exists():
            raise LaunchedRunError(**json.loads(error_file.read_text(encoding="utf-8")))
        return proc.returncode


def _stop(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """Stop the launcher and its ranks: SIGINT (torchrun then ends the ranks), SIGKILL if they are still there after
    `grace_s`. Their output is drained meanwhile, so a full pipe cannot keep them waiting."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _relay(fd: int, starts_noise: Any, is_chatter: Any = lambda segment: False) -> None:
    """Copy the ranks' stderr here as it comes (progress bars too: segments end at \\r or \\n), up to the first
    segment `starts_noise` says begins the launcher's failure report."""
    import re

    out = sys.stderr.buffer if hasattr(sys.stderr, "buffer") else None
    pending, quiet = b"", False
    while chunk := os.read(fd, 65536):
        pending += chunk
        parts = re.split(rb"(?<=[\r\n])", pending)
        pending = parts.pop()  # the segment not yet ended
        for part in parts:
            text = part.decode("utf-8", "replace")
            quiet = quiet or starts_noise(text)
            if not quiet and not is_chatter(text):
                if out is not None:
                    out.write(part)
                else:
                    sys.stderr.write(part.decode("utf-8", "replace"))
        sys.stderr.flush()
    if pending and not quiet:
        sys.stderr.write(pending.decode("utf-8", "replace"))


class LaunchedRunError(HubembedError):
    """A user error one of the ranks raised (its class name and message come back through a file)."""

    def __init__(self, message: str, kind: str = "HubembedError", exit_code: int = 2) -> None:
        super().__init__(message)
        self.kind = kind
        self.exit_code = exit_code


class LaunchFailed(HubembedError):
    """The launched ranks failed without a user error (a crash, a killed rank): exit code 1."""

    exit_code = 1


def report_error(err: BaseException) -> None:
    """In a launched rank: hand a user error to the launcher, which prints it once (call before re-raising)."""
    path = os.environ.get(ENV_ERROR_FILE)
    if not path or not isinstance(err, HubembedError) or Path(path).exists():
        return
    with contextlib.suppress(OSError):  # unwritable: the rank still re-raises, and torchrun reports the failure
        tmp = Path(f"{path}.{rank()}")
        tmp.write_text(json.dumps({"message": str(err), "kind": type(err).__name__, "exit_code": err.exit_code}), encoding="utf-8")
        os.replace(tmp, path)


def error_reported() -> bool:
    """In a launched rank: has a rank already handed the launcher a user error? (Then this rank's own failure, e.g.
    a barrier the stopped rank left, is only its echo.)"""
    path = os.environ.get(ENV_ERROR_FILE)
    return bool(path) and Path(path).exists()


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. builds and caches the data), the others after it; a no-op alone."""
    if world_size() <= 1:
        yield
        return
    from accelerate import PartialState

    # The same state the HF Trainer creates later (cpu=True without CUDA: gloo); the first one made is kept.
    state = PartialState(cpu=not _cuda_devices())
    with state.main_process_first():
        yield


def write_launch_record(folder: Path, num_processes: int | None, accelerate_config: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"num_processes": num_processes or 1, "accelerate_config": accelerate_config}
    (folder / LAUNCH_FILE).write_text(json.dumps(record), encoding="utf-8")


def read_launch_record(folder: Path) -> dict[str, Any]:
    path = folder / LAUNCH_FILE
    if not path.exists():
        return {"num_processes": 1, "accelerate_config": None}
    return json.loads(path.read_text(encoding="utf-8"))
