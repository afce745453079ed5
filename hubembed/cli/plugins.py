"""`hubembed plugins list|show|check|new`: what is installed, from where, what each plugin takes and gives,
whether it keeps the contract, and a new plugin package to start from."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable

import click

from hubembed.types import KINDS

CODE_OPTION = click.option(
    "--code", "code", multiple=True, type=click.Path(dir_okay=False), metavar="FILE.py",
    help="Also register the plugin classes of a local file (repeatable).",
)


def _use_code(code: tuple[str, ...], strict: bool) -> None:
    if code:
        from hubembed.registry import use_code

        use_code(code, strict=strict)


def code_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--code FILE.py` for any command that resolves plugins (e.g. `hubembed train`): the file's plugin classes are
    registered before the command runs (and in the processes it starts, through HUBEMBED_CODE)."""

    @functools.wraps(command)
    def wrapper(*args: Any, code: tuple[str, ...] = (), **kwargs: Any) -> Any:
        _use_code(code, strict=True)
        return command(*args, **kwargs)

    return CODE_OPTION(wrapper)


@click.group()
def plugins() -> None:
    """List and inspect installed plugins (built-in and third-party)."""


def _row(info) -> dict:
    from hubembed.registry import registry

    error = info.error
    row = {
        "kind": info.kind,
        "name": info.name,
        "short": info.short,
        "distribution": info.distribution,
        "version": info.dist_version,
        "status": "ok" if error is None else "broken",
    }
    if error is None:
        row["summary"] = info.load().summary
        newer = registry().superseded_by(info)
        if newer:
            row["superseded_by"] = newer
    else:
        row["error"] = error
    return row


def run_records(path: str) -> list[dict[str, str]]:
    """The plugins (name, distribution, version) a run config uses: as recorded in a run's hubembed_run.yaml,
    else as they resolve among the installed plugins now."""
    from hubembed import config as cfgmod
    from hubembed.registry import registry

    file = Path(path) / cfgmod.RUN_FILE if Path(path).is_dir() else Path(path)
    raw = cfgmod.read_run_file(file)
    cfg = cfgmod.from_dict(raw, str(file))
    recorded: dict[str, dict[str, str]] = {}
    for key in ("data", "loss", "trainer", "eval"):
        items = raw.get(key) if isinstance(raw.get(key), list) else [raw.get(key)]
        for item in items:
            if isinstance(item, dict) and {"name", "distribution", "version"} <= set(item):
                recorded[item["name"]] = {k: str(item[k]) for k in ("name", "distribution", "version")}
    if cfg.data is None or cfg.eval is None:
        cfg = cfgmod.with_defaults(cfg)
    reg = registry()
    records = []
    for kind, steps in (("data", cfg.data), ("loss", [cfg.loss]), ("trainer", [cfg.trainer]), ("evaluator", cfg.eval)):
        for step in steps or []:
            if step is not None:
                records.append({"kind": kind, **(recorded.get(step.name) or reg.resolve(kind, step.name).record())})
    return records


@plugins.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only plugins of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--requirements", is_flag=True, help="Print the pip requirements (distribution==version) of the plugins instead.")
@click.option("--config", "config_file", type=click.Path(exists=True), metavar="RUN.yaml|RUN_DIR",
              help="Only the plugins this run config (or run folder) uses.")
@CODE_OPTION
def list_(kind: str | None, as_json: bool, requirements: bool, config_file: str | None, code: tuple[str, ...]) -> None:
    """List plugins with kind, pinned name, distribution and version.

    \b
    Examples:
      hubembed plugins list --kind loss
      hubembed plugins list --requirements --config runs/mnr/hubembed_run.yaml > requirements.txt
      hubembed plugins list --code my_loss.py
    """
    from hubembed.registry import current_spelling, registry
    from hubembed.registry import requirements as pip_lines

    _use_code(code, strict=False)
    reg = registry()
    if config_file:
        records = run_records(config_file)
        if requirements:
            click.echo("\n".join(pip_lines(records)))
            return
        used = {current_spelling(r["name"]) for r in records}  # a run file written before a rename still matches
        infos = [i for i in reg.infos(kind) if i.name in used]
        installed = {i.name for i in reg.infos()}
        missing = [
            {**r, "short": r["name"].split(".")[1], "status": "missing",
             "error": f"not installed: pip install {r['distribution']}=={r['version']}"}
            for r in records if current_spelling(r["name"]) not in installed and (kind is None or r["kind"] == kind)
        ]
    else:
        infos, missing = reg.infos(kind), []
    if requirements:
        click.echo("\n".join(pip_lines([i.record() for i in infos if i.error is None])))
        return
    rows = [_row(info) for info in infos] + list({r["name"]: r for r in missing}.values())
    if as_json:
        click.echo(json.dumps({"plugins": rows, "problems": reg.problems}, indent=2))
        return
    for k in [kind] if kind else KINDS:
        group = [r for r in rows if r["kind"] == k]
        if not group:
            continue
        click.secho(f"{k}:", bold=True)
        width = max(len(r["name"]) for r in group)
        for r in group:
            tail = r["summary"] if r["status"] == "ok" else click.style(f"{r['status'].upper()}: {r['error']}", fg="red")
            if r.get("superseded_by"):
                tail += click.style(f" (superseded by {r['superseded_by']})", fg="yellow")
            click.echo(f"  {r['name']:<{width}}  {r['distribution']} {r['version']}  {tail}")
    for problem in reg.problems:
        click.secho(f"problem: {problem}", fg="yellow")


@plugins.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), help="Kind, when NAME is ambiguous across kinds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@CODE_OPTION
def show(name: str, kind: str | None, as_json: bool, code: tuple[str, ...]) -> None:
    """Params (type, default, help), shapes, distribution and version of one plugin (NAME: of any kind), and
    whether a newer version supersedes it."""
    from hubembed.registry import registry
    from hubembed.types import SHAPES, describe_params

    _use_code(code, strict=True)
    info = _find(name, kind)
    cls = info.load()
    desc = {**_row(info), "params": describe_params(cls.Params), "citation": cls.citation}
    for attr in ("consumes", "produces", "expects"):
        if hasattr(cls, attr):
            value = getattr(cls, attr)
            desc[attr] = None if value is None else {s: list(SHAPES[s]) for s in value}
    if info.kind == "loss":
        from hubembed.registry import defaults_of

        default_data, default_eval = defaults_of(cls)
        desc["default_data"], desc["default_eval"] = list(default_data), list(default_eval)
    command = {"trainer": "train", "evaluator": "eval"}.get(info.kind, "train")
    desc["flags"] = [{"flag": f.name, "param": f.param, "metavar": f.metavar, "help": f.help, "command": command}
                     for f in cls.flags]
    if as_json:
        click.echo(json.dumps(desc, indent=2, default=str))
        return
    click.secho(f"{info.name}  ({info.kind}, short name {info.short!r})", bold=True)
    click.echo(f"  {desc['summary']}")
    click.echo(f"  from {info.distribution} {info.dist_version} ({info.value})")
    note = registry().superseded_note(info)
    if note:
        click.echo(f"  {note}")
    for attr in ("consumes", "produces", "expects"):
        if attr in desc:
            shapes = desc[attr]
            text = "nothing (a source)" if shapes is None else "; ".join(f"{s} ({', '.join(c)})" for s, c in shapes.items())
            click.echo(f"  {attr}: {text}")
    if "default_data" in desc:
        click.echo(f"  default data: {' -> '.join(desc['default_data'])}; default eval: {', '.join(desc['default_eval'])}")
    for f in desc["flags"]:
        click.echo(f"  flag of hubembed {f['command']}: {f['flag']}{' ' + f['metavar'] if f['metavar'] else ''}  {f['help']}")
    click.echo("  params:" if desc["params"] else "  params: none")
    for p in desc["params"]:
        click.echo(f"    {p['name']}: {p['type']} = {p['default']!r}  {p['help']}")


def _find(name: str, kind: str | None):
    from hubembed.registry import registry

    return registry().find(name, kind)


@plugins.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), help="Kind, when NAME is ambiguous across kinds.")
@click.option("--model", metavar="PATH", help="A sentence-transformers model folder (default: the tiny BERT, built locally).")
@click.option("--set", "overrides", multiple=True, metavar="PARAM=VALUE", help="A param for the check run (YAML value).")
@CODE_OPTION
def check(name: str, kind: str | None, model: str | None, overrides: tuple[str, ...], code: tuple[str, ...]) -> None:
    """Run the contract checks on one plugin: shapes, params, config round trip, a 2-step run on the tiny model.

    \b
    Examples:
      hubembed plugins check acme.focal.v1
      hubembed plugins check --code my_loss.py local.my_loss.v1
      hubembed plugins check pairs --set path=train.csv
    """
    import yaml

    from hubembed.errors import ConfigError
    from hubembed.testing.checks import check_plugin

    _use_code(code, strict=True)
    info = _find(name, kind)
    params = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not PARAM=VALUE, e.g. --set scale=30")
        params[key.strip()] = yaml.safe_load(text) if text else ""
    click.echo(f"Checking {info.name} ({info.kind}) from {info.distribution} {info.dist_version} ...", err=True)
    report = check_plugin(info.name, kind=info.kind, params=params or None, model=model)
    for item in report.passed:
        click.echo(f"  ok  {item}")
    click.secho(f"{info.name} keeps the {info.kind} plugin contract.", bold=True)


@plugins.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder to create the package in (as DIR/hubembed-NAME).")
@click.option("--owner", help="Owner part of the registered name (default: NAME's first word, as in acme-focal).")
def new(kind: str, name: str, directory: str, owner: str | None) -> None:
    """Create a pip-installable plugin package: metadata with the entry point, the plugin class, README, tests.

    \b
    Example:
      hubembed plugins new loss acme-focal
      pip install -e "./hubembed-acme-focal[test]" && pytest hubembed-acme-focal
      hubembed train --plugin acme.focal
    """
    from hubembed.scaffold import MODULE, generate

    target, n = generate(kind, name, directory, owner)
    shown = str(target) if target.is_absolute() or str(target).startswith(".") else f"./{target}"  # pip: a path, not a name
    click.secho(f"Created {target}/ : {kind} plugin {n.pinned}, class {n.cls} in src/{n.package}/{MODULE[kind]}.py", bold=True)
    usage = {
        "loss": f"hubembed train --plugin {n.owner}.{n.short}",
        "data": f"hubembed train --plugin mnr --data {n.owner}.{n.short} --set data.path=FILE.jsonl",
        "trainer": f"hubembed train --plugin mnr --trainer {n.owner}.{n.short}",
        "evaluator": f"hubembed train --plugin mnr --eval stsb --eval {n.owner}.{n.short}:FILE.csv",
    }[kind]
    click.echo("Next:")
    click.echo(f'  pip install -e "{shown}[test]"   # registers {n.pinned} (entry point in pyproject.toml), and pytest')
    click.echo(f"  pytest {shown}                  # contract checks + its own tests, on the tiny model")
    click.echo(f"  hubembed plugins list --kind {kind}")
    click.echo(f"  {usage}")
