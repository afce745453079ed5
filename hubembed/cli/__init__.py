"""The `hubembed` command. Subcommands are imported only when invoked, so `hubembed --help` stays fast."""

from __future__ import annotations

import importlib

import click

from hubembed import __version__

COMMANDS = {
    "train": ("hubembed.cli.train", "train", "Train an embedding model: hubembed train --plugin mnr"),
    "plugins": ("hubembed.cli.plugins", "plugins", "List and inspect installed plugins"),
    "data": ("hubembed.cli.data", "data", "Run data steps alone and save the dataset: hubembed data build --data nli --data hard-negatives"),
    "eval": ("hubembed.cli.eval", "eval_", "Score a model or run folder on STSB / MTEB tasks"),
    "push": ("hubembed.cli.hub", "push", "Push a run folder to the Hub (or retry a failed push)"),
    "pull": ("hubembed.cli.hub", "pull", "Download a model from the Hub and check it loads"),
    "compare": ("hubembed.cli.hub", "compare", "Compare models by the scores in their Hub cards"),
    "leaderboard": ("hubembed.cli.hub", "leaderboard", "Rank an organisation's hubembed models by their card scores"),
    "doctor": ("hubembed.cli.doctor", "doctor", "Check this installation: versions against the tested lock, hardware, Hub access, plugins"),
    "hub": ("hubembed.cli.hub", "hub_group", "LocalHub, a Hub-compatible test server on 127.0.0.1: hubembed hub serve"),
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use (like Flask's FlaskGroup)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, _, help_) in sorted(COMMANDS.items())]
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
