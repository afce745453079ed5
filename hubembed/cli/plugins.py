"""`hubembed plugins list|show`: what is installed, from where, and what each plugin takes and gives."""

from __future__ import annotations

import json

import click

from hubembed.types import KINDS


@click.group()
def plugins() -> None:
    """List and inspect installed plugins (built-in and third-party)."""


def _row(info) -> dict:
    error = info.error
    row = {
        "kind": info.kind,
        "name": info.name,
        "alias": info.short,
        "distribution": info.distribution,
        "version": info.dist_version,
        "status": "ok" if error is None else "broken",
    }
    if error is None:
        row["summary"] = info.load().summary
    else:
        row["error"] = error
    return row


@plugins.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only plugins of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(kind: str | None, as_json: bool) -> None:
    """List plugins with kind, pinned name, distribution and version."""
    from hubembed.registry import registry

    reg = registry()
    rows = [_row(info) for info in reg.infos(kind)]
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
            tail = r["summary"] if r["status"] == "ok" else click.style(f"BROKEN: {r['error']}", fg="red")
            click.echo(f"  {r['name']:<{width}}  {r['distribution']} {r['version']}  {tail}")
    for problem in reg.problems:
        click.secho(f"problem: {problem}", fg="yellow")


@plugins.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), help="Kind, when NAME is ambiguous across kinds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(name: str, kind: str | None, as_json: bool) -> None:
    """Params (type, default, help), shapes, distribution and version of one plugin."""
    from hubembed.errors import UnknownPluginError
    from hubembed.registry import registry
    from hubembed.types import SHAPES, describe_params

    reg = registry()
    found = []
    for k in [kind] if kind else KINDS:
        try:
            found.append(reg.resolve(k, name))
        except UnknownPluginError as err:
            last = err
    if not found:
        raise last
    if len(found) > 1:
        raise UnknownPluginError(f"{name!r} names plugins of several kinds; add --kind {' or --kind '.join(i.kind for i in found)}")
    info = found[0]
    cls = info.load()
    desc = {**_row(info), "params": describe_params(cls.Params), "citation": cls.citation}
    for attr in ("consumes", "produces", "expects"):
        if hasattr(cls, attr):
            value = getattr(cls, attr)
            desc[attr] = None if value is None else {s: list(SHAPES[s]) for s in value}
    if info.kind == "loss":
        desc["default_data"] = list(cls.default_data)
        desc["default_eval"] = list(cls.default_eval)
    if as_json:
        click.echo(json.dumps(desc, indent=2, default=str))
        return
    click.secho(f"{info.name}  ({info.kind}, alias {info.short!r})", bold=True)
    click.echo(f"  {desc['summary']}")
    click.echo(f"  from {info.distribution} {info.dist_version} ({info.value})")
    for attr in ("consumes", "produces", "expects"):
        if attr in desc:
            shapes = desc[attr]
            text = "nothing (a source)" if shapes is None else "; ".join(f"{s} ({', '.join(c)})" for s, c in shapes.items())
            click.echo(f"  {attr}: {text}")
    if "default_data" in desc:
        click.echo(f"  default data: {' -> '.join(desc['default_data'])}; default eval: {', '.join(desc['default_eval'])}")
    click.echo("  params:" if desc["params"] else "  params: none")
    for p in desc["params"]:
        click.echo(f"    {p['name']}: {p['type']} = {p['default']!r}  {p['help']}")
