"""Command-line flags that plugins declare (`Plugin.flags`), so `hubembed train --merge` or `hubembed eval --mteb
TASKS` exist without the core naming any plugin. The options are read from the installed plugins when the command
is built; a plugin from `--code FILE` adds no flags (use --set for its params)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import click

PREFIX = "plugin_flag_"  # the click parameter names of plugin flags, kept apart from the command's own


@dataclass(frozen=True)
class Declared:
    short: str  # the plugin's short name
    info: Any  # registry.PluginInfo
    flag: Any  # types.Flag


def declared(kind: str) -> dict[str, list[Declared]]:
    """Every flag the installed plugins of `kind` declare, by flag name."""
    from hubembed.registry import registry

    found: dict[str, list[Declared]] = {}
    for info in registry().infos(kind):
        if info.error is not None:  # a broken plugin adds no flags; `hubembed plugins list` and doctor report it
            continue
        for flag in info.load().flags:
            found.setdefault(flag.name, []).append(Declared(info.short, info, flag))
    return found


def options(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the flags plugins of `kind` declare to a click command. Put it right under `@click.command()`, so the
    command's own options are known: a plugin flag of the same name is not added (the command's own wins; `hubembed
    plugins show NAME` still lists it)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        params = command.__dict__.setdefault("__click_params__", [])
        taken = {opt for param in params for opt in param.opts}
        for name, uses in sorted(declared(kind).items()):
            if name in taken:
                continue
            flag = uses[0].flag
            owners = ", ".join(dict.fromkeys(u.short for u in uses))
            text = f"{flag.help} ({kind} {owners})"
            dest = PREFIX + name.lstrip("-").replace("-", "_")
            shape = {"is_flag": True, "default": False} if flag.metavar is None else {"metavar": flag.metavar, "default": None}
            params.insert(0, click.Option([name, dest], help=text, **shape))  # click lists them in reverse: last
        return command

    return decorate


def given(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the plugin flags the user gave out of a command's kwargs: {"--merge": True, "--mteb": "SciFact"}."""
    found = {}
    for dest in [k for k in kwargs if k.startswith(PREFIX)]:
        value = kwargs.pop(dest)
        if value not in (None, False):
            found["--" + dest.removeprefix(PREFIX).replace("_", "-")] = value
    return found


def params_for(kind: str, info: Any, flags: dict[str, Any]) -> dict[str, Any]:
    """The params the given `flags` set on the chosen plugin `info`; one line when a flag is not its own."""
    from hubembed.errors import ConfigError

    table = declared(kind)
    params: dict[str, Any] = {}
    for name, value in flags.items():
        mine = [u for u in table.get(name, []) if u.info.name == info.name]
        if not mine:
            owners = ", ".join(dict.fromkeys(u.short for u in table.get(name, []))) or "none installed"
            raise ConfigError(f"{name} applies to the {kind} plugin(s) {owners}, not {info.short}; drop {name} or choose one of them")
        if mine[0].flag.param is not None:
            params[mine[0].flag.param] = _value(mine[0].flag, value)
    return params


def chosen(kind: str, flags: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    """The plugins of `kind` that `flags` choose (each by its first flag), with the params their other flags set;
    a flag that belongs to no chosen plugin is one line naming the flag that chooses its plugin."""
    from hubembed.errors import ConfigError

    table = declared(kind)
    picked = {u.info.name: u.info for name in flags for u in table.get(name, []) if u.info.load().flags[0].name == name}
    chosen_params: dict[str, dict[str, Any]] = {name: {} for name in picked}
    for name, value in flags.items():
        mine = [u for u in table.get(name, []) if u.info.name in picked]
        if not mine:
            first = table[name][0].info.load().flags[0]
            raise ConfigError(f"{name} needs {first.name}: choose {table[name][0].short} with "
                              f"{first.name}{' ' + first.metavar if first.metavar else ''}")
        for use in mine:
            if use.flag.param is not None:
                chosen_params[use.info.name][use.flag.param] = _value(use.flag, value)
    return [(info, chosen_params[name]) for name, info in picked.items()]


def _value(flag: Any, given: Any) -> Any:
    """What a given flag sets its param to: true for an on/off flag, else the value typed after it."""
    return True if flag.metavar is None else given
