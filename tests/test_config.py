"""Run config: YAML, flags, --set overrides, params typing, resolution to pinned names, and compatibility."""

from __future__ import annotations

import pytest
import yaml

from hubembed import compat
from hubembed import config as cfgmod
from hubembed.errors import CompatibilityError, ConfigError, UnknownPluginError


def resolved(**kwargs):
    return cfgmod.resolve(cfgmod.RunConfig(**kwargs))


def test_defaults_come_from_the_loss():
    run = resolved(loss=cfgmod.Step("mnr"))
    assert [s.info.name for s in run.data] == ["hubembed.nli.v1"]
    assert [s.info.name for s in run.eval] == ["hubembed.stsb.v1", "hubembed.in-domain.v1"]  # the loss's, then held-out
    assert run.trainer.info.name == "hubembed.full.v1"
    own = resolved(loss=cfgmod.Step("mnr"), data=(cfgmod.Step("nli", {"source": "my.csv"}),))
    assert [s.info.name for s in own.eval] == ["hubembed.in-domain.v1", "hubembed.stsb.v1"]  # own data: its score leads
    assert compat.check(run) == ["triplet"]


def test_each_loss_gets_the_nli_shape_it_needs():
    assert compat.check(resolved(loss=cfgmod.Step("softmax"))) == ["pair-class"]
    assert compat.check(resolved(loss=cfgmod.Step("cosine"))) == ["pair-score"]


def test_yaml_round_trip_reproduces_the_run(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({
        "loss": {"name": "mnr", "params": {"scale": 30}},
        "data": [{"name": "nli", "params": {"limit": 100}}],
        "training": {"batch_size": 16, "lr": 5e-5},
        "output": "runs/x",
    }))
    first = cfgmod.resolve(cfgmod.load(path))
    assert first.loss.plugin.params.scale == 30.0 and isinstance(first.loss.plugin.params.scale, float)
    assert first.training.batch_size == 16
    dumped = tmp_path / "hubembed_run.yaml"
    dumped.write_text(first.to_yaml())
    again = cfgmod.resolve(cfgmod.load(dumped))
    assert again.to_dict() == first.to_dict()
    assert again.to_dict()["loss"]["name"] == "hubembed.mnr.v1"


def test_overrides_reach_every_section():
    cfg = cfgmod.with_defaults(cfgmod.RunConfig(loss=cfgmod.Step("mnr")))
    cfg = cfgmod.apply_overrides(cfg, ["loss.scale=25", "data.limit=64", "eval.stsb.splits=[validation]",
                                       "training.epochs=2", "model=/tmp/m", "trainer.weight_decay=0"])
    run = cfgmod.resolve(cfg)
    assert run.loss.plugin.params.scale == 25.0
    assert run.data[0].plugin.params.limit == 64
    assert run.eval[0].plugin.params.splits == ("validation",)
    assert run.training.epochs == 2.0 and run.model == "/tmp/m"
    assert run.trainer.plugin.params.weight_decay == 0.0


@pytest.mark.parametrize("override, message", [
    ("loss.temperature=3", "unknown param(s) temperature; its params are: scale, gather_across_devices"),
    ("training.batchsize=3", "unknown param(s) batchsize"),
    ("loss.scale=high", "expected float"),
    ("training.batch_size=2.5", "expected int"),
    ("colour=red", "unknown key"),
    ("loss.scale", "is not key=value"),
])
def test_bad_overrides_say_what_to_do(override, message):
    cfg = cfgmod.with_defaults(cfgmod.RunConfig(loss=cfgmod.Step("mnr")))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cfgmod.resolve(cfgmod.apply_overrides(cfg, [override]))


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        cfgmod.load(bad)
    bad.write_text("los: mnr\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['los'\]"):
        cfgmod.load(bad)
    with pytest.raises(ConfigError, match="cannot read config"):
        cfgmod.load(tmp_path / "missing.yaml")


def test_unknown_plugin_in_config():
    with pytest.raises(UnknownPluginError, match="did you mean 'softmax'"):
        resolved(loss=cfgmod.Step("softmx"))


def test_incompatible_data_and_loss_names_alternatives(tmp_path):
    scored = tmp_path / "scored.csv"
    scored.write_text("sentence1,sentence2,score\na,b,0.5\n")
    run = resolved(loss=cfgmod.Step("mnr"), data=(cfgmod.data_step(str(scored)),))
    with pytest.raises(CompatibilityError) as err:
        compat.check(run)
    message = str(err.value)
    assert "loss mnr trains on n-tuple/triplet/pair data but data step pairs produces pair-score" in message
    assert "--plugin cosine" in message and "--data nli" in message


def test_a_transform_needs_a_source_first():
    from hubembed.registry import registry

    from hubembed.types import DataBuilder

    class Transform(DataBuilder):
        summary = "test transform"
        consumes = ("pair",)
        produces = ("triplet",)

        def build(self, ctx, upstream):
            return upstream

    reg = registry()
    reg.add_class("data", "test.transform.v1", Transform)
    try:
        run = resolved(loss=cfgmod.Step("mnr"), data=(cfgmod.Step("test.transform"),))
        with pytest.raises(CompatibilityError, match="needs a source before it"):
            compat.check(run)
        run = resolved(loss=cfgmod.Step("mnr"), data=(cfgmod.Step("nli"), cfgmod.Step("test.transform")))
        assert compat.check(run) == ["pair", "triplet"]
    finally:
        from hubembed.registry import reset

        reset()


def test_data_path_shorthand_picks_the_builder(tmp_path):
    nli = tmp_path / "nli.tsv"
    nli.write_text("premise\thypothesis\tlabel\na\tb\tentailment\n")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"anchor": "a", "positive": "b"}\n')
    assert cfgmod.data_step(str(nli)) == cfgmod.Step("nli", {"source": str(nli)})
    assert cfgmod.data_step(str(pairs)) == cfgmod.Step("pairs", {"path": str(pairs)})
    assert cfgmod.data_step("nli") == cfgmod.Step("nli")


def test_eval_shorthand_sets_the_first_param():
    run = resolved(loss=cfgmod.Step("mnr"), eval=(cfgmod.eval_step("stsb:validation"),))
    assert run.eval[0].plugin.params.splits == ("validation",)
