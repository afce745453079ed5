"""The `hubembed` command. Subcommands are imported only when invoked, so `hubembed --help` stays fast."""

from __future__ import annotations

import importlib
from typing import Any

import click

from hubembed import __version__

COMMANDS = {
    "train": ("hubembed.cli.train", "train", "Train an embedding model: hubembed train --plugin mnr"),
    "plugins": ("hubembed.cli.plugins", "plugins", "List and inspect installed plugins"),
    "data": ("hubembed.cli.data", "data", "Run data steps alone and save the dataset: hubembed data build --data nli --data hard-negatives"),
    "eval": ("hubembed.cli.eval", "eval_", "Score a model or run folder with evaluator plugins (hubembed eval --help lists their flags)"),
    "push": ("hubembed.cli.hub", "push", "Push a run folder to the Hub (or retry a failed push)"),
    "pull": ("hubembed.cli.hub", "pull", "Download a model from the Hub and check it loads"),
    "compare": ("hubembed.cli.hub", "compare", "Compare models by the scores in their Hub cards"),
    "leaderboard": ("hubembed.cli.hub", "leaderboard", "Rank an organisation's hubembed models by their card scores"),
    "doctor": ("hubembed.cli.doctor", "doctor", "Check this installation: versions against the tested lock, hardware, Hub access, plugins"),
    "hub": ("hubembed.cli.hub", "hub_group", "LocalHub, a Hub-compatible test server on 127.0.0.1: hubembed hub serve"),
}


COMMANDS_GROUP = "hubembed.commands"  # entry points of commands that plugin packages add (as llm and datasette do)


def plugin_commands() -> dict[str, Any]:
    """Commands installed packages add: `name = module:click_command` in the `hubembed.commands` group; a name
    hubembed has itself stays hubembed's."""
    import importlib.metadata as md

    return {ep.name: ep for ep in md.entry_points(group=COMMANDS_GROUP) if ep.name not in COMMANDS}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use (like Flask's FlaskGroup)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*COMMANDS, *plugin_commands()])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr, _ = COMMANDS[name]
            return getattr(importlib.import_module(module), attr)
        entry = plugin_commands().get(name)
        if entry is None:
            return None
        from hubembed.errors import PluginError

        try:
            return entry.load()
        except Exception as err:  # a broken package's command is one line, like a broken plugin
            dist = entry.dist.name if entry.dist else "its package"
            raise PluginError(f"command {name} from {dist} is broken ({type(err).__name__}: {err}); upgrade or uninstall {dist}") from err

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in sorted(COMMANDS.items())]
        rows += [(name, f"(from {ep.dist.name if ep.dist else 'a plugin package'})") for name, ep in sorted(plugin_commands().items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hubembed")
def cli() -> None:
    """Create text embedding models from plugins and share them on the Hugging Face Hub.

    Errors print one line; set HUBEMBED_DEBUG=1 for tracebacks.
    """


def main() -> None:
    from hubembed.cli._errors import run_guarded

    run_guarded(lambda: cli.main(prog_name="hubembed"))
