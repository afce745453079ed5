"""Commands from plugin packages: the `hubembed.commands` entry-point group adds `hubembed NAME`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMMAND = '''
import click


@click.command()
@click.argument("who")
def hello(who):
    """Say hello (a command from a plugin package)."""
    click.echo(f"hello {who}")


def broken():
    raise RuntimeError("never")
'''


def _package(root: Path, entry_points: str) -> dict[str, str]:
    """A distribution on PYTHONPATH, as pip would leave it: a module and its .dist-info with entry points."""
    (root / "acme_cmd.py").write_text(COMMAND)
    info = root / "hubembed_acme_cmd-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hubembed-acme-cmd\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[hubembed.commands]\n{entry_points}\n")
    return {**os.environ, "PYTHONPATH": str(root)}


def _hubembed(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubembed", *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_package_adds_a_command_and_cannot_take_a_builtin_name(tmp_path):
    env = _package(tmp_path, "hello = acme_cmd:hello\ntrain = acme_cmd:hello")
    listed = _hubembed("--help", env=env)
    assert "hello" in listed.stdout and "(from hubembed-acme-cmd)" in listed.stdout
    said = _hubembed("hello", "world", env=env)
    assert said.returncode == 0 and said.stdout.strip() == "hello world"
    own = _hubembed("train", "--help", env=env)
    assert "Train an embedding model" in own.stdout  # hubembed's own train, not the package's


def test_a_broken_command_is_one_line(tmp_path):
    env = _package(tmp_path, "oops = acme_cmd:no_such_thing")
    result = _hubembed("oops", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().startswith("error: command oops from hubembed-acme-cmd is broken (AttributeError")
