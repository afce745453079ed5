"""Meta-tests over every built-in plugin, found in the registry (not listed here): each passes the same contract
checks third-party authors get (hubembed.testing.checks), is a row of the README's plugin table, and has its own
test file, tests/plugins/test_<module>.py for plugins/<kind>/<module>.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hubembed.registry import BUILTIN_DISTRIBUTION, registry
from hubembed.testing import check_plugin, write_tiny_file
from hubembed.types import Plugin

REPO = Path(__file__).resolve().parents[1]
BUILTINS = [info for info in registry().infos() if info.distribution == BUILTIN_DISTRIBUTION]

# Params for built-ins that cannot run on their defaults and do not (yet) say so in a check_params() hook of
# their own, which is the better place (see docs/writing-plugins.md).
CHECK_PARAMS = {
    "hubembed.pairs.v1": lambda tmp: {"path": str(write_tiny_file("triplet", tmp / "pairs.csv", n=32))},
}


def module_stem(info) -> str:
    """hubembed_plugins.losses.mnr:MNRLoss -> mnr"""
    return info.value.split(":")[0].rsplit(".", 1)[-1]


def test_the_builtins_are_found():
    kinds = {info.kind for info in BUILTINS}
    assert kinds == {"data", "loss", "trainer", "evaluator"}, kinds
    assert all(info.value.startswith("hubembed_plugins.") for info in BUILTINS)


@pytest.mark.parametrize("info", BUILTINS, ids=lambda i: i.name)
def test_builtin_passes_the_contract_checks(info, tiny_model, tmp_path):
    cls = info.load()
    params = None
    if info.name in CHECK_PARAMS and cls.check_params.__func__ is Plugin.check_params.__func__:
        params = CHECK_PARAMS[info.name](tmp_path)
    report = check_plugin(info.name, kind=info.kind, params=params, model=tiny_model, workdir=tmp_path / "check")
    assert report.plugin == info.name and len(report.passed) >= 4


@pytest.mark.parametrize("info", BUILTINS, ids=lambda i: i.name)
def test_builtin_is_in_the_readme_plugin_table(info):
    rows = [line for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    row = next((r for r in rows if r.startswith(f"| `{info.name}` |")), None)
    assert row is not None, f"README.md: add a row `| \\`{info.name}\\` | \\`{info.short}\\` | {info.kind} | what it does |` to the plugin table"
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"`{info.short}`", f"README.md: the short name of {info.name} is `{info.short}`, the table says {cells[1]}"
    assert re.match(rf"{info.kind}\b", cells[2]), f"README.md: {info.name} is a {info.kind} plugin, the table says {cells[2]}"


@pytest.mark.parametrize("info", BUILTINS, ids=lambda i: i.name)
def test_builtin_has_its_own_test_file(info):
    test_file = REPO / "tests" / "plugins" / f"test_{module_stem(info)}.py"
    assert test_file.exists(), f"{info.name} ({info.value}) has no test file: add {test_file.relative_to(REPO)}"
    source = test_file.read_text(encoding="utf-8")
    assert re.search(r"^def test_", source, re.M), f"{test_file.relative_to(REPO)} holds no test"
