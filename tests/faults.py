"""The shape of the bad-input and fault tables (tests/test_faults_*.py): each row a command, its exit code, a
pattern for its one stderr line, and what must (not) be left on disk afterwards.

A row's `args` and paths may hold `{tmp}` (the test's tmp_path), `{tiny}` (the tiny model folder) and `{data}`
(the folder the row's `files` are written to); `setup` runs first for rows that need more than files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    exit_code: int = 2
    line: str = ""  # a regex that the one `error:` / `interrupted:` line of stderr must match (re.search)
    files: dict[str, str | bytes] = field(default_factory=dict)  # written under {data} before the command
    absent: tuple[str, ...] = ()  # paths that must not exist afterwards (formatted like args)
    present: tuple[str, ...] = ()  # paths that must exist afterwards
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], Any] | None = None  # gets tmp_path; runs after `files` are written
    timeout: int = 300

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def whole_json(path: Path) -> bool:
    """Whether `path` is there and holds complete JSON: a checkpoint is complete once its trainer_state.json is
    (the trainer writes it last, not atomically, so a kill can land mid-write)."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def expand(text: str, tmp: Path, tiny: str) -> str:
    return text.format(tmp=tmp, tiny=tiny, data=tmp / "data")


def run_case(case: Case, run_cli: Callable[..., Any], tmp: Path, tiny: str) -> Any:
    """Write the row's files, run its command, and check exit code, the one message line and the disk."""
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    for name, content in case.files.items():
        path = data / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    if case.setup is not None:
        case.setup(tmp)
    args = [expand(a, tmp, tiny) for a in case.args]
    env = {k: expand(v, tmp, tiny) for k, v in case.env.items()}
    result = run_cli(*args, env=env, timeout=case.timeout)
    assert result.returncode == case.exit_code, f"exit {result.returncode}, stderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    if case.line:
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith(("error:", "interrupted:"))]
        assert len(lines) == 1, f"want one error line, stderr:\n{result.stderr}"
        assert re.search(case.line, lines[0]), f"{lines[0]!r} does not match {case.line!r}"
    for path in case.absent:
        assert not Path(expand(path, tmp, tiny)).exists(), f"{path} was left behind"
    for path in case.present:
        assert Path(expand(path, tmp, tiny)).exists(), f"{path} is missing"
    return result
