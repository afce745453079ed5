"""Registry: discovery through entry points, aliases and versions, broken and duplicate plugins."""

from __future__ import annotations

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
    assert all(i.distribution == "hubembed" for i in reg.infos())


def test_aliases_resolve_to_the_highest_version():
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
