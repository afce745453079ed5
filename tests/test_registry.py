"""Registry: discovery through entry points, short names and versions, broken and duplicate plugins."""

from __future__ import annotations

import json
import textwrap

import pytest

from hubembed import registry as regmod
from hubembed.errors import PluginError, UnknownPluginError

GOOD = '''
from dataclasses import dataclass, field
from hubembed.types import Loss

@dataclass(frozen=True)
class Params:
    gamma: float = field(default=2.0, metadata={"help": "focus"})

class FocalLoss(Loss):
    summary = "A third-party loss"
    Params = Params
    expects = ("pair",)
    def build(self, model):
        raise NotImplementedError
'''


def make_dist(root, dist, module, source, entry_points):
    """A real installed distribution on sys.path: a module plus NAME-VERSION.dist-info with entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"  # as wheels name it
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    regmod.reset()


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(tmp_path))
    regmod.reset()
    yield tmp_path
    regmod.reset()


def test_builtins_register_through_entry_points():
    reg = regmod.registry()
    names = {(i.kind, i.name) for i in reg.infos()}
    for kind, name in [("data", "hubembed.nli.v1"), ("data", "hubembed.pairs.v1"), ("loss", "hubembed.mnr.v1"),
                       ("loss", "hubembed.cosine.v1"), ("loss", "hubembed.softmax.v1"), ("trainer", "hubembed.full.v1"),
                       ("evaluator", "hubembed.stsb.v1")]:
        assert (kind, name) in names
    # the hubembed owner is the built-ins' own (installed example packages may sit beside them)
    assert all(i.distribution == "hubembed" for i in reg.infos() if i.owner == "hubembed")


def test_short_names_resolve_to_the_highest_version():
    reg = regmod.registry()
    assert reg.resolve("loss", "mnr").name == "hubembed.mnr.v1"
    assert reg.resolve("loss", "hubembed.mnr").name == "hubembed.mnr.v1"
    assert reg.resolve("loss", "hubembed.mnr.v1").record() == {"name": "hubembed.mnr.v1", "distribution": "hubembed", "version": reg.resolve("loss", "mnr").dist_version}


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownPluginError) as err:
        regmod.registry().resolve("loss", "mrn")
    assert "did you mean 'mnr'" in str(err.value) and "cosine" in str(err.value)


def test_third_party_distribution_is_found_and_versioned(fresh):
    make_dist(fresh, "acme-focal", "acme_focal", GOOD, """
        [hubembed.losses]
        acme.focal.v1 = acme_focal:FocalLoss
        acme.focal.v2 = acme_focal:FocalLoss
    """)
    reg = regmod.registry()
    info = reg.resolve("loss", "focal")
    assert (info.name, info.distribution, info.dist_version) == ("acme.focal.v2", "acme-focal", "1.2.3")
    assert reg.resolve("loss", "acme.focal.v1").name == "acme.focal.v1"
    plugin = reg.create("loss", "acme.focal")
    assert plugin.params.gamma == 2.0 and plugin.name == "acme.focal.v2"


def test_broken_plugins_are_reported_and_do_not_break_others(fresh):
    make_dist(fresh, "acme-broken", "acme_broken", "raise RuntimeError('boom at import')\n", """
        [hubembed.losses]
        acme.broken.v1 = acme_broken:Nope
    """)
    make_dist(fresh, "acme-bad", "acme_bad", "class NotAPlugin:\n    pass\n", """
        [hubembed.losses]
        acme.bad.v1 = acme_bad:NotAPlugin
    """)
    reg = regmod.registry()
    broken = reg.resolve("loss", "acme.broken")
    assert "boom at import" in broken.error
    with pytest.raises(PluginError, match="acme-broken 1.2.3"):
        broken.load()
    assert "not a subclass of hubembed.types.Loss" in reg.resolve("loss", "acme.bad").error
    assert reg.resolve("loss", "mnr").error is None  # the others still load


def test_duplicate_names_name_both_distributions(fresh):
    for dist, module in (("acme-one", "acme_one"), ("acme-two", "acme_two")):
        make_dist(fresh, dist, module, GOOD, f"""
            [hubembed.losses]
            acme.focal.v1 = {module}:FocalLoss
        """)
    info = regmod.registry().resolve("loss", "acme.focal.v1")
    with pytest.raises(PluginError) as err:
        info.load()
    assert "registered twice" in str(err.value)
    assert "acme-one" in str(err.value) and "acme-two" in str(err.value)


def test_bad_names_are_problems_not_crashes(fresh):
    make_dist(fresh, "acme-odd", "acme_odd", GOOD, """
        [hubembed.losses]
        Focal = acme_odd:FocalLoss
    """)
    reg = regmod.registry()
    assert any("owner.name.v1" in p for p in reg.problems)
    assert reg.resolve("loss", "mnr")


def test_autoload_can_be_disabled_or_allowlisted(fresh, monkeypatch):
    make_dist(fresh, "acme-focal", "acme_focal", GOOD, """
        [hubembed.losses]
        acme.focal.v1 = acme_focal:FocalLoss
    """)
    monkeypatch.setenv("HUBEMBED_DISABLE_PLUGIN_AUTOLOAD", "1")
    regmod.reset()
    assert "acme.focal.v1" not in {i.name for i in regmod.registry().infos("loss")}
    monkeypatch.delenv("HUBEMBED_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("HUBEMBED_PLUGINS", "acme-focal")
    regmod.reset()
    assert "acme.focal.v1" in {i.name for i in regmod.registry().infos("loss")}


def test_every_builtin_honours_the_contract():
    for info in regmod.registry().infos():
        if info.distribution == "hubembed":
            assert info.error is None, f"{info.name}: {info.error}"


def test_the_hubembed_owner_is_reserved_for_the_builtins(fresh):
    make_dist(fresh, "acme-sneaky", "acme_sneaky", GOOD, """
        [hubembed.losses]
        hubembed.focal.v1 = acme_sneaky:FocalLoss
        acme.focal.v1 = acme_sneaky:FocalLoss
    """)
    reg = regmod.registry()
    assert "hubembed.focal.v1" not in {i.name for i in reg.infos("loss")}
    assert any("acme-sneaky" in p and "reserved" in p and "<your-owner>.focal.v1" in p for p in reg.problems)
    assert reg.resolve("loss", "acme.focal.v1").error is None  # its other plugins still register


# --- plugins from a local file (--code) ------------------------------------------------------------------------

TWO_KINDS = GOOD + '''

from hubembed.types import Evaluator

class Named(Evaluator):
    name = "acme.named.v2"
    summary = "An evaluator with an explicit name"
    def evaluate(self, model, ctx):
        return []
'''


@pytest.fixture
def code_env(monkeypatch):
    monkeypatch.delenv(regmod.CODE_ENV, raising=False)
    regmod.reset()
    yield
    regmod.reset()


def test_code_file_registers_its_plugin_classes(tmp_path, code_env):
    path = tmp_path / "focal_loss.py"
    path.write_text(TWO_KINDS)
    reg = regmod.use_code([str(path)])
    loss = reg.resolve("loss", "focal_loss")
    assert loss.name == "local.focal_loss.v1" and loss.is_local
    assert loss.distribution == f"file:{path}" and loss.dist_version.startswith("sha256:")
    assert reg.create("loss", "local.focal_loss").params.gamma == 2.0
    assert reg.resolve("evaluator", "acme.named").name == "acme.named.v2"  # its `name` attribute wins
    import os

    assert os.environ[regmod.CODE_ENV] == str(path)  # processes started from here register it too
    lines = regmod.requirements([loss.record(), reg.resolve("loss", "mnr").record()])
    assert lines[0].startswith("hubembed==")
    assert lines[1].startswith("# local.focal_loss.v1: local file") and "--code" in lines[1]


@pytest.mark.parametrize(
    "source, message",
    [
        ("raise ZeroDivisionError('no')\n", "cannot import --code .*bad.py \\(ZeroDivisionError: no\\); fix the file"),
        ("x = 1\n", "defines no plugin class; subclass hubembed.types.DataBuilder, Loss, Trainer or Evaluator"),
        (GOOD + "\nclass Other(FocalLoss):\n    pass\n", "defines two loss plugins named local.bad.v1 \\(FocalLoss, Other\\)"),
    ],
)
def test_a_bad_code_file_is_one_line(tmp_path, code_env, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(PluginError, match=message) as err:
        regmod.use_code([str(path)])
    assert "\n" not in str(err.value)
    assert regmod.CODE_ENV not in __import__("os").environ  # nothing registered half-way


def test_a_code_plugin_that_breaks_the_contract_is_listed_broken(tmp_path, code_env):
    path = tmp_path / "nosummary.py"
    path.write_text(GOOD.replace('summary = "A third-party loss"', ""))
    reg = regmod.use_code([str(path)])
    assert "has no one-line `summary`" in reg.resolve("loss", "local.nosummary.v1").error
    assert reg.resolve("loss", "mnr").error is None


def test_requirements_pin_each_distribution_once():
    records = [
        {"name": "hubembed.mnr.v1", "distribution": "hubembed", "version": "0.1.0"},
        {"name": "acme.focal.v1", "distribution": "hubembed-acme-focal", "version": "1.2.3"},
        {"name": "acme.faq.v1", "distribution": "hubembed-acme-focal", "version": "1.2.3"},
        {"name": "hubembed.stsb.v1", "distribution": "hubembed", "version": "0.1.0"},
        {"name": "test.x.v1", "distribution": "<local>", "version": "0"},
    ]
    assert regmod.requirements(records) == ["hubembed==0.1.0", "hubembed-acme-focal==1.2.3"]


def test_plugins_list_code_and_broken_code_keep_the_command_working(run_cli, tmp_path):
    good = tmp_path / "angle.py"
    good.write_text(GOOD.replace("FocalLoss", "AngleLoss"))
    bad = tmp_path / "broken.py"
    bad.write_text("import not_a_module_anywhere\n")
    result = run_cli("plugins", "list", "--json", "--code", str(good), "--code", str(bad))
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    rows = {r["name"]: r for r in listed["plugins"]}
    assert rows["local.angle.v1"]["status"] == "ok" and rows["local.angle.v1"]["distribution"] == f"file:{good}"
    assert rows["hubembed.mnr.v1"]["status"] == "ok"
    assert any("broken.py" in p and "ModuleNotFoundError" in p for p in listed["problems"])
    # a run refuses a file that does not import, in one line, before anything loads
    refused = run_cli("train", "--plugin", "mnr", "--code", str(bad))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "fix the file" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_superseded_versions_say_so(fresh):
    make_dist(fresh, "acme-focal", "acme_focal_versions", GOOD + '''

class FocalLossV1(FocalLoss):
    superseded_by = "acme.focal.v2"
''', """
        [hubembed.losses]
        acme.focal.v1 = acme_focal_versions:FocalLossV1
        acme.focal.v2 = acme_focal_versions:FocalLoss
    """)
    from click.testing import CliRunner

    from hubembed.cli import cli

    out = CliRunner().invoke(cli, ["plugins", "list", "--kind", "loss"])
    assert out.exit_code == 0, out.output
    line = next(line for line in out.output.splitlines() if "acme.focal.v1" in line)
    assert "superseded by acme.focal.v2" in line


ANGLE = '''
from dataclasses import dataclass, field

from hubembed.types import Loss


@dataclass(frozen=True)
class Params:
    scale: float = field(default=20.0, metadata={"help": "inverse temperature"})


class AnglE(Loss):
    summary = "AnglE loss on scored pairs (sentence-transformers AnglELoss)"
    Params = Params
    expects = ("pair-score",)

    def build(self, model):
        from sentence_transformers.sentence_transformer.losses import AnglELoss

        return AnglELoss(model, scale=self.params.scale)
'''


def test_train_with_a_plugin_from_a_local_file(run_cli, tiny_model, tmp_path):
    code = tmp_path / "angle.py"
    code.write_text(ANGLE)
    out = tmp_path / "angle-run"
    result = run_cli("train", "--code", str(code), "--plugin", "angle", "--set", "loss.scale=10", "--model", tiny_model,
                     "--output", str(out), "--set", "data.limit=32", "--max-steps", "2", "--batch-size", "16",
                     "--set", "eval.stsb.splits=[validation]", env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    run = (out / "hubembed_run.yaml").read_text()
    assert "name: local.angle.v1" in run and f"distribution: file:{code}" in run and "scale: 10.0" in run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["requirements"][0].startswith("hubembed==")
    assert metrics["requirements"][1].startswith(f"# local.angle.v1: local file {code} (sha256:")
    # reproducing the run needs the file again, and says so
    again = run_cli("train", "--config", str(out / "hubembed_run.yaml"), "--output", str(tmp_path / "again"))
    assert again.returncode == 2 and "local.* plugins come from a file; pass --code FILE.py" in again.stderr
