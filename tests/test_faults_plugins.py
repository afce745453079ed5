"""Issue #11, plugins and their authors: finding a plugin by name across kinds, Params a run file cannot carry
(refused when the class loads, before any run), the plugin's own traceback under HUBEMBED_DEBUG=1, superseded
versions, the documented v1/v2 example, and the tiny test model from the command line.

Plugins are real: `--code {data}/x.py` files, or distributions on PYTHONPATH with a dist-info folder and its
entry_points.txt (what pip writes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from faults import Case, run_case

REPO = Path(__file__).resolve().parents[1]
SITE = "{tmp}/site"  # PYTHONPATH of the rows that install a distribution there


def install(tmp: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    """A real installed distribution under tmp/site: a module plus NAME-VERSION.dist-info with its entry points."""
    site = tmp / "site"
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")


HEAD = """\
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from hubembed.types import DataBuilder, Evaluator, Loss
"""


def loss(params: str = "", name: str = "", cls: str = "Focal", extra: str = "") -> str:
    """Source of a loss plugin whose Params have the given field lines (4-space indented)."""
    body = "\n".join(f"    {line}" for line in params.splitlines()) or "    pass"
    attr = f'    name = "{name}"\n' if name else ""
    return HEAD + f'''

@dataclass(frozen=True)
class {cls}Params:
{body}


class {cls}(Loss):
{attr}    summary = "a focal loss"
    Params = {cls}Params
    expects = ("pair",)
{extra}
    def build(self, model):
        raise NotImplementedError
'''


def evaluator(name: str) -> str:
    return f'''

class Scores(Evaluator):
    name = "{name}"
    summary = "an evaluator"

    def evaluate(self, model, ctx):
        return []
'''


def builder(name: str, cls: str) -> str:
    return f'''

class {cls}(DataBuilder):
    name = "{name}"
    summary = "tiny pairs"
    produces = ("pair",)

    def build(self, ctx, upstream):
        from hubembed.testing import tiny_dataset_dict

        return tiny_dataset_dict(ctx.shape, n=8, seed=ctx.seed)
'''


def bad_params(id: str, field_line: str, line: str) -> Case:
    """`plugins show` of a loss whose Params has this field: broken, one line naming the param and the fix."""
    return Case(
        f"params-{id}", ("plugins", "show", "--code", "{data}/p.py", "local.p"),
        line=rf"^error: plugin local\.p\.v1 from file:.*p\.py sha256:\w+ is broken \(param {line}\); fix the file$",
        files={"p.py": loss(field_line)},
    )


BROKEN_AT_IMPORT = "import os\nraise RuntimeError('boom at import')\n"


def install_boom(tmp: Path) -> None:
    install(tmp, "acme-boom", "acme_boom", BROKEN_AT_IMPORT, "[hubembed.losses]\nacme.boom.v1 = acme_boom:Boom\n")


CASES = [
    # --- one name, every kind: what `plugins show` / `plugins check` find -------------------------------------
    Case("show-typo-suggests-across-kinds", ("plugins", "show", "mnrx"),
         line=r"^error: unknown plugin 'mnrx': did you mean 'mnr' \(loss\)\? see `hubembed plugins list`$"),
    Case("check-typo-suggests-across-kinds", ("plugins", "check", "nlii"),
         line=r"^error: unknown plugin 'nlii': did you mean 'nli' \(data\)\? see `hubembed plugins list`$"),
    Case("show-same-short-name-in-two-kinds", ("plugins", "show", "--code", "{data}/two.py", "focal"),
         line=r"^error: 'focal' is ambiguous: acme\.focal\.v1 \(loss\), beta\.focal\.v1 \(evaluator\); "
              r"give one of these names, or add --kind loss or --kind evaluator$",
         files={"two.py": loss(name="acme.focal.v1") + evaluator("beta.focal.v1")}),
    Case("show-same-pinned-name-in-two-kinds", ("plugins", "show", "--code", "{data}/two.py", "acme.focal.v1"),
         line=r"^error: 'acme\.focal\.v1' is ambiguous: acme\.focal\.v1 \(loss\), acme\.focal\.v1 \(evaluator\); "
              r"add --kind loss or --kind evaluator$",
         files={"two.py": loss(name="acme.focal.v1") + evaluator("acme.focal.v1")}),
    Case("check-two-owners-in-one-kind", ("plugins", "check", "--code", "{data}/a.py", "--code", "{data}/b.py", "focal"),
         line=r"^error: 'focal' is ambiguous: acme\.focal\.v1 \(loss\), beta\.focal\.v1 \(loss\); give one of these names$",
         files={"a.py": loss(name="acme.focal.v1"), "b.py": loss(name="beta.focal.v1")}),
    Case("show-wrong-kind-names-the-right-one", ("plugins", "show", "mnr", "--kind", "data"),
         line=r"^error: unknown data plugin 'mnr': it is a loss plugin; use --kind loss or drop --kind$"),
    Case("show-pinned-in-one-kind", ("plugins", "show", "--code", "{data}/two.py", "--kind", "evaluator", "acme.focal.v1"),
         exit_code=0, files={"two.py": loss(name="acme.focal.v1") + evaluator("acme.focal.v1")}),

    # --- Params checked when the class loads: types a run file and metrics.json carry, defaults of that type --
    bad_params("path", 'where: Path = field(default=Path("/tmp"), metadata={"help": "a folder"})',
               r"where: Path cannot be written to hubembed_run\.yaml and metrics\.json; use str, int, float, bool, "
               r"None, Literal\[\.\.\.\], or tuples, lists or dicts \(str keys\) of those"),
    bad_params("list-of-path", 'where: list[Path] = field(default_factory=list, metadata={"help": "folders"})',
               r"where: Path cannot be written to hubembed_run\.yaml and metrics\.json; use .*"),
    bad_params("any", 'extra: Any = field(default=None, metadata={"help": "anything"})',
               r"extra: Any cannot be written to hubembed_run\.yaml and metrics\.json; use .*"),
    bad_params("bare-list", 'tags: list = field(default_factory=list, metadata={"help": "tags"})',
               r"tags: a bare list does not say what it holds; write e\.g\. list\[str\]"),
    bad_params("int-keys", 'weights: dict[int, float] = field(default_factory=dict, metadata={"help": "w"})',
               r"weights: dict keys must be str \(keys in YAML and JSON are strings\); write dict\[str, float\]"),
    bad_params("mixed-tuple", 'pair: tuple[str, int] = field(default=("a", 1), metadata={"help": "p"})',
               r"pair: tuple\[str, int\] mixes item types, which a run file cannot keep apart; "
               r"use one item type, e\.g\. tuple\[str, \.\.\.\]"),
    bad_params("str-default-for-float", 'scale: float = field(default="20", metadata={"help": "s"})',
               r"scale: default '20' is not of the declared type float; give a default of that type"),
    bad_params("bool-default-for-int", 'n: int = field(default=True, metadata={"help": "n"})',
               r"n: default True is not of the declared type int; give a default of that type"),
    bad_params("literal-default", 'mode: Literal["a", "b"] = field(default="c", metadata={"help": "m"})',
               r"mode: default 'c' is not of the declared type Literal\['a', 'b'\]; give a default of that type"),
    bad_params("no-default", 'n: int = field(metadata={"help": "n"})',
               r"n has no default; every param needs one \(field\(default=\.\.\.\)\)"),
    Case("params-unresolvable-annotation", ("plugins", "show", "--code", "{data}/p.py", "local.p"),
         line=r"is broken \(Params annotations cannot be resolved \(name 'Undefined' is not defined\); "
              r"import the types they name\); fix the file$",
         files={"p.py": loss('x: "Undefined" = field(default=None, metadata={"help": "x"})')}),
    Case("params-that-a-run-file-carries", ("plugins", "show", "--code", "{data}/p.py", "local.p"), exit_code=0,
         files={"p.py": loss(
             'a: Optional[tuple[str, ...]] = field(default=None, metadata={"help": "a"})\n'
             'b: dict[str, list[int | None]] = field(default_factory=lambda: {"x": [1, None]}, metadata={"help": "b"})\n'
             'c: Literal[1, "x", None, True] = field(default=True, metadata={"help": "c"})\n'
             'd: float = field(default=2, metadata={"help": "an int default for a float is fine"})\n'
             'e: list[str] = field(default_factory=list, metadata={"help": "e"})\n'
             'f: "str | None" = field(default=None, metadata={"help": "f"})')}),
    # a run that uses it stops before anything loads, with one line
    Case("train-with-unwritable-params", ("train", "--code", "{data}/p.py", "--plugin", "local.p", "--model", "{tiny}",
                                          "--output", "{tmp}/run"),
         line=r"^error: plugin local\.p\.v1 from file:.*p\.py sha256:\w+ is broken \(param where: Path cannot be written",
         files={"p.py": loss('where: Path = field(default=Path("/tmp"), metadata={"help": "a folder"})')},
         absent=("{tmp}/run",)),

    # --- an installed plugin that fails to import: one line naming the distribution (traceback: see below) ------
    Case("installed-plugin-raises-at-import", ("plugins", "show", "acme.boom"),
         line=r"^error: plugin acme\.boom\.v1 from acme-boom 1\.0 is broken \(RuntimeError: boom at import\); "
              r"upgrade or uninstall acme-boom$",
         env={"PYTHONPATH": SITE}, setup=install_boom),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_plugin_faults(case, run_cli, tmp_path, tiny_model):
    run_case(case, run_cli, tmp_path, tiny_model)


# --- what a row cannot say -------------------------------------------------------------------------------------


def test_plugins_list_shows_unwritable_params_as_broken(run_cli, tmp_path):
    code = tmp_path / "p.py"
    code.write_text(loss('where: Path = field(default=Path("/tmp"), metadata={"help": "a folder"})'))
    listed = run_cli("plugins", "list", "--json", "--code", str(code))
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout)["plugins"] if r["name"] == "local.p.v1")
    assert row["status"] == "broken"
    assert row["error"].startswith("param where: Path cannot be written to hubembed_run.yaml and metrics.json")
    text = run_cli("plugins", "list", "--kind", "loss", "--code", str(code))
    assert re.search(r"local\.p\.v1 .* BROKEN: param where: Path cannot be written", text.stdout), text.stdout
    assert "hubembed.mnr.v1" in text.stdout  # the others keep working


def test_debug_shows_the_plugins_own_traceback(run_cli, tmp_path):
    install_boom(tmp_path)
    shown = run_cli("plugins", "show", "acme.boom", env={"PYTHONPATH": str(tmp_path / "site"), "HUBEMBED_DEBUG": "1"})
    assert shown.returncode == 1, shown.stderr
    site_file = str(tmp_path / "site" / "acme_boom.py")
    assert f'File "{site_file}", line 2' in shown.stderr, shown.stderr  # the plugin's own frame and line
    assert "RuntimeError: boom at import" in shown.stderr
    assert "The above exception was the direct cause of the following exception" in shown.stderr
    assert shown.stderr.rstrip().splitlines()[-1].startswith("hubembed.errors.PluginError: plugin acme.boom.v1")


VERSIONS = loss(name="acme.x.v1", cls="XV1") + loss(name="acme.x.v2", cls="XV2", params='scale: float = field(default=2.0, metadata={"help": "s"})')


def test_show_and_list_say_superseded_when_a_newer_version_is_installed(run_cli, tmp_path):
    code = tmp_path / "versions.py"
    code.write_text(VERSIONS)  # neither class declares superseded_by: the installed v2 is enough
    shown = run_cli("plugins", "show", "--code", str(code), "acme.x.v1")
    assert shown.returncode == 0, shown.stderr
    assert "  superseded by acme.x.v2 (installed; `acme.x` resolves to it)" in shown.stdout, shown.stdout
    newest = run_cli("plugins", "show", "--code", str(code), "acme.x")
    assert newest.returncode == 0 and "acme.x.v2" in newest.stdout and "superseded" not in newest.stdout
    rows = {r["name"]: r for r in json.loads(run_cli("plugins", "list", "--json", "--code", str(code)).stdout)["plugins"]}
    assert rows["acme.x.v1"]["superseded_by"] == "acme.x.v2" and "superseded_by" not in rows["acme.x.v2"]


def test_a_v2_subclass_does_not_inherit_superseded_by(run_cli, tmp_path):
    """v1 says superseded_by = v2; v2 subclasses v1 and forgets to reset it: v2 is not superseded by itself."""
    code = tmp_path / "inherit.py"
    code.write_text(loss(name="acme.x.v1", cls="XV1", extra='    superseded_by = "acme.x.v2"\n') + textwrap.dedent('''

        class XV2(XV1):
            name = "acme.x.v2"
    '''))
    listed = run_cli("plugins", "list", "--kind", "loss", "--code", str(code))
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if line.startswith("  ")}
    v1, v2 = rows["acme.x.v1"], rows["acme.x.v2"]
    assert "superseded by acme.x.v2" in v1 and "superseded" not in v2, listed.stdout


NOTE = "note: acme.x.v1 is superseded by acme.x.v2 (installed; `acme.x` resolves to it); this run uses acme.x.v1 as pinned"


def test_training_a_superseded_version_says_so_once(run_cli, tmp_path, tiny_model):
    """The notice comes when the run resolves; the run here then stops at its output folder, which holds a run."""
    files = {"versions.py": VERSIONS, "taken/hubembed_run.yaml": "model: x\n"}
    (tmp_path / "data" / "taken").mkdir(parents=True)
    case = Case("train-superseded", ("train", "--code", "{data}/versions.py", "--plugin", "acme.x.v1", "--model", "{tiny}",
                                     "--output", "{data}/taken"), line="already holds a run", files=files)
    result = run_case(case, run_cli, tmp_path, tiny_model)
    assert result.stderr.splitlines().count(NOTE) == 1, result.stderr
    # `hubembed data build --plugin` resolves the data steps twice; the notice still comes once (it has no --code:
    # HUBEMBED_CODE registers the file)
    builders = VERSIONS + builder("acme.x.v1", "PairsV1") + builder("acme.x.v2", "PairsV2")
    case = Case("data-build-superseded", ("data", "build", "--data", "acme.x.v1", "--plugin", "mnr", "--output", "{data}/taken"),
                line="already holds a run", files={"b.py": builders}, env={"HUBEMBED_CODE": "{data}/b.py"})
    result = run_case(case, run_cli, tmp_path, tiny_model)
    assert result.stderr.splitlines().count(NOTE) == 1, result.stderr
    # the newest version says nothing
    case = Case("train-newest", ("train", "--code", "{data}/versions.py", "--plugin", "acme.x", "--model", "{tiny}",
                                 "--output", "{data}/taken"), line="already holds a run")
    assert "note:" not in run_case(case, run_cli, tmp_path, tiny_model).stderr


def test_plugins_new_says_to_install_the_test_extra_before_pytest(run_cli, tmp_path):
    made = run_cli("plugins", "new", "loss", "acme-focal", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    target = tmp_path / "hubembed-acme-focal"
    assert f'pip install -e "{target}[test]"' in made.stdout, made.stdout
    assert made.stdout.index("pip install -e") < made.stdout.index(f"pytest {target}")


# --- the documentation's example is one consistent package -----------------------------------------------------


def doc_block(heading: str, language: str) -> str:
    """The first ```language block under `## heading` in docs/writing-plugins.md."""
    text = (REPO / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_documented_v1_v2_example_installs_and_says_what_it_says(tmp_path, monkeypatch):
    """The Versions section's module and the Entry points section's pyproject.toml, installed as a distribution."""
    import tomllib

    from hubembed import registry as regmod

    source = doc_block("Versions", "python")
    entry_points = tomllib.loads(doc_block("Entry points", "toml"))["project"]["entry-points"]["hubembed.losses"]
    module = {v.split(":")[0] for v in entry_points.values()}
    assert len(module) == 1, entry_points  # one module holds both versions
    (tmp_path / "hubembed_acme_focal").mkdir()
    (tmp_path / "hubembed_acme_focal" / "__init__.py").write_text("")
    (tmp_path / "hubembed_acme_focal" / "loss.py").write_text(source)
    info = tmp_path / "hubembed_acme_focal-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hubembed-acme-focal\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hubembed.losses]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    regmod.reset()
    try:
        reg = regmod.registry()
        v1, v2 = reg.resolve("loss", "acme.focal.v1"), reg.resolve("loss", "acme.focal.v2")
        assert v1.error is None and v2.error is None, (v1.error, v2.error)
        assert reg.resolve("loss", "acme.focal") is v2
        assert reg.superseded_by(v1) == "acme.focal.v2" and reg.superseded_by(v2) is None
        assert v2.load().superseded_by is None  # the documented v2 resets what it would inherit
        assert issubclass(v2.load(), v1.load())  # ... because it subclasses v1, as the text says
        assert v1.load().Params() != v2.load().Params()  # a results-changing default is what makes it a v2
    finally:
        regmod.reset()


# --- the tiny test model from the command line -----------------------------------------------------------------


def tiny_main(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hubembed.testing.tiny", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})


def test_python_m_hubembed_testing_tiny_makes_the_model_in_a_folder(tmp_path, capsys, tiny_model):
    """The command's refusals run as `python -m` (before torch loads, so in a blink); the build itself runs
    in-process, where the tiny_model fixture has already paid for importing torch."""
    from hubembed.testing.tiny import main

    folder = tmp_path / "tiny"
    assert main([str(folder)]) == 0
    assert capsys.readouterr().out.strip() == str(folder)
    assert (folder / "modules.json").exists() and (folder / "model.safetensors").exists()
    again = tiny_main(str(folder))  # never over a folder that holds something
    assert again.returncode == 2 and again.stderr.strip().splitlines() == [
        f"error: {folder} is not empty; give a new or empty folder"], again.stderr
    usage = tiny_main()
    assert usage.returncode == 2 and usage.stderr.strip().splitlines() == [
        "error: give one folder: python -m hubembed.testing.tiny DIR  (builds the tiny model into DIR, a new or empty "
        "folder, and prints DIR)"], usage.stderr
    assert tiny_main("--help").stdout.startswith("usage: python -m hubembed.testing.tiny DIR")
