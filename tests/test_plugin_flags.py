"""Flags that plugins declare (`Plugin.flags`): validated when the class loads, routed to the chosen plugin."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
import pytest

from hubembed.cli import flags
from hubembed.errors import ConfigError, PluginError
from hubembed.registry import Registry, registry
from hubembed.types import Flag, Trainer


@dataclass(frozen=True)
class Params:
    merge: bool = field(default=False, metadata={"help": "merge"})


def _trainer(*declared: Flag) -> type[Trainer]:
    return type("T", (Trainer,), {"summary": "a trainer with flags", "Params": Params, "flags": declared})


@pytest.mark.parametrize("flag, why", [
    (Flag("-m", "short"), "name it --lowercase-words-with-hyphens"),
    (Flag("--Merge_it", "caps"), "name it --lowercase-words-with-hyphens"),
    (Flag("--fold", "a param it lacks", param="fold"), "sets param 'fold', which its Params lack"),
])
def test_a_flag_a_command_line_cannot_carry_breaks_the_plugin(flag, why):
    info = Registry().add_class("trainer", "acme.flagged.v1", _trainer(flag))
    with pytest.raises(PluginError, match=why):
        info.load()


def test_flags_reach_only_the_plugin_that_declares_them():
    lora = registry().resolve("trainer", "lora")
    assert flags.params_for("trainer", lora, {"--merge": True}) == {"merge": True}
    with pytest.raises(ConfigError, match="--merge applies to the trainer plugin\\(s\\) lora, not full"):
        flags.params_for("trainer", registry().resolve("trainer", "full"), {"--merge": True})


def test_an_evaluator_is_chosen_by_its_first_flag():
    [(info, params)] = flags.chosen("evaluator", {"--mteb": "SciFact", "--mteb-data": "/data"})
    assert info.short == "mteb" and params == {"tasks": "SciFact", "data_dir": "/data"}
    with pytest.raises(ConfigError, match="--mteb-data needs --mteb: choose mteb with --mteb TASK,..."):
        flags.chosen("evaluator", {"--mteb-data": "/data"})


def test_a_command_keeps_its_own_option_of_the_same_name():
    @flags.options("evaluator")
    @click.option("--stsb", "own", is_flag=True, help="the command's own")
    def command(**kwargs):
        pass

    names = [opt for param in command.__click_params__ for opt in param.opts]
    assert names.count("--stsb") == 1 and "--mteb" in names
