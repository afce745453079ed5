"""`hubembed doctor`: what this installation is and whether it can work, in one screen (like `transformers env` /
`hf env`): versions against the tested lock, CPU/GPU and the precision a run would pick, the Hub endpoint and
token (never its value), cache folders, and every installed plugin with the broken ones flagged."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import re
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

LOCK = "requirements.lock"  # package data: the exact set `make test` installs and CI passes with


def key_packages() -> list[str]:
    """What hubembed itself requires (its metadata, i.e. setup.cfg), and torch, which those bring."""
    import importlib.metadata as md

    direct = [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in md.requires("hubembed") or [] if "extra ==" not in r]
    return [*direct[:2], "torch", *direct[2:]]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, str]:
    """name -> version of every package in the lock shipped with hubembed (empty if it is missing)."""
    try:
        text = files("hubembed").joinpath(LOCK).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {}
    pins = (re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line) for line in text.splitlines())
    return {_canonical(m.group(1)): m.group(2) for m in pins if m}


def installed_versions() -> dict[str, str]:
    """name -> version of the copy Python imports (the first on sys.path, as importlib.metadata.version picks)."""
    found: dict[str, str] = {}
    for dist in md.distributions():
        if dist.metadata["Name"]:
            found.setdefault(_canonical(dist.metadata["Name"]), dist.version)
    return found


def packages() -> dict[str, Any]:
    """The key packages with their locked version, the installed ones whose version differs from the lock (by
    public version: torch's +cpu or +cu128 build tag is no difference), and the locked ones not installed (the test
    tools, on a user's install: not a problem)."""
    locked, installed = locked_versions(), installed_versions()
    key = [{"name": n, "installed": installed.get(n), "locked": locked.get(n)} for n in key_packages()]
    differ = [
        {"name": n, "installed": installed[n], "locked": v}
        for n, v in sorted(locked.items())
        if n in installed and _public(installed[n]) != _public(v)
    ]
    missing = sorted(n for n in locked if n not in installed)
    return {"key": key, "lock_size": len(locked), "differ_from_lock": differ, "not_installed": missing}


def _public(version: str) -> str:
    return version.split("+", 1)[0]


def machine() -> dict[str, Any]:
    import torch

    from hubembed import hardware

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "cpu": hardware.cpu_model(),
        "cores": os.cpu_count(),
        "bf16_units": hardware.bf16_units(),
        "precision_auto": hardware.resolve_precision("auto"),
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus,
    }


def hub_status() -> dict[str, Any]:
    """Endpoint, where a token comes from (never its value) and whether the endpoint answers: one short connect
    first, so a machine without network says so at once instead of after the client's retries."""
    from hubembed import hub
    from hubembed.errors import HubError

    endpoint = hub.resolve_endpoint()
    status: dict[str, Any] = {"endpoint": endpoint, "token": hub.token_source(), "offline": hub.offline()}
    if status["offline"]:
        return {**status, "answers": None, "detail": "HF_HUB_OFFLINE is set"}
    down = hub.unreachable(endpoint)
    if down is not None:
        return {**status, "answers": False, "detail": down}
    try:
        status["detail"] = hub.answers(hub.resolve_token(), endpoint)
        status["answers"] = True
    except HubError as err:  # the finding, not a crash
        status["answers"], status["detail"] = False, str(err)
    return status


def caches() -> dict[str, str]:
    from hubembed import hub
    from hubembed.config import cache_dir

    return {**hub.cache_folders(), "hubembed": str(cache_dir())}


def plugins() -> list[dict[str, Any]]:
    """Every installed plugin; `problem` says why one cannot be used (it fails to load, or its libraries)."""
    from hubembed.registry import registry

    rows = []
    for info in registry().infos():
        problem = None
        try:
            problem = info.load().environment_problem()
        except Exception as err:  # a broken plugin is a finding, not a crash
            problem = str(err)
        rows.append({"kind": info.kind, "name": info.name, "distribution": f"{info.distribution} {info.dist_version}",
                     "problem": problem})
    return rows


def registry_problems() -> list[str]:
    """What could not be registered at all (a plugin file that fails to import, a badly named entry point)."""
    from hubembed.registry import registry

    return list(registry().problems)


def report() -> dict[str, Any]:
    from hubembed import __version__

    return {
        "hubembed": {"version": __version__, "location": str(Path(__file__).resolve().parents[1])},
        "python": {"version": platform.python_version(), "executable": sys.executable, "platform": platform.platform()},
        "packages": packages(),
        "machine": machine(),
        "hub": hub_status(),
        "caches": caches(),
        "plugins": plugins(),
        "plugin_problems": registry_problems(),
    }


def problems(facts: dict[str, Any]) -> list[str]:
    found = [f"plugin {p['name']}: {p['problem']}" for p in facts["plugins"] if p["problem"]]
    found += facts["plugin_problems"]
    differ = facts["packages"]["differ_from_lock"]
    if differ:
        found.append(f"{len(differ)} package(s) differ from the tested lock (see above); the tested set: "
                     f"pip install -r {files('hubembed').joinpath(LOCK)}")
    if facts["hub"]["answers"] is False:
        found.append(f"the Hub endpoint {facts['hub']['endpoint']} does not answer: {facts['hub']['detail']}")
    return found


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(as_json: bool) -> None:
    """Show versions (against the tested lock), hardware, Hub access, caches and plugins; flag what is broken."""
    facts = report()
    facts["problems"] = problems(facts)
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    _print(facts)


def _print(facts: dict[str, Any]) -> None:
    echo = click.echo
    echo(f"hubembed {facts['hubembed']['version']}  ({facts['hubembed']['location']})")
    echo(f"Python   {facts['python']['version']}  ({facts['python']['executable']}; {facts['python']['platform']})")
    pk = facts["packages"]
    echo(f"\nPackages (lock: {pk['lock_size']} pins)")
    for p in pk["key"]:
        same = p["locked"] is None or (p["installed"] and _public(p["installed"]) == _public(p["locked"]))
        mark = "" if same else f"   <- lock has {p['locked']}"
        echo(f"  {p['name']:<22} {p['installed'] or 'not installed'}{mark}")
    others = [p for p in pk["differ_from_lock"] if p["name"] not in key_packages()]
    for p in others:
        echo(f"  {p['name']:<22} {p['installed']}   <- lock has {p['locked']}")
    if pk["not_installed"]:
        echo(f"  not installed from the lock: {', '.join(pk['not_installed'])}")
    m = facts["machine"]
    echo("\nMachine")
    echo(f"  CPU      {m['cpu']}, {m['cores']} cores, {m['bf16_units']}")
    echo(f"  GPUs     {', '.join(m['gpus']) or 'none'}")
    echo(f"  runs use precision {m['precision_auto']} (--precision auto), {m['torch_threads']} torch threads")
    h = facts["hub"]
    answers = {True: "answers", False: "does NOT answer", None: "not contacted"}[h["answers"]]
    echo("\nHub")
    echo(f"  endpoint {h['endpoint']}: {answers} ({h['detail']})")
    echo(f"  token    {'from ' + h['token'] if h['token'] else 'none (set HF_TOKEN or run `hf auth login` to push)'}")
    echo("\nCaches")
    for name, path in facts["caches"].items():
        echo(f"  {name:<16} {path}")
    echo("\nPlugins")
    for p in facts["plugins"]:
        flag = f"   BROKEN: {p['problem']}" if p["problem"] else ""
        echo(f"  {p['kind']:<9} {p['name']:<28} {p['distribution']}{flag}")
    found = facts["problems"]
    echo(f"\n{len(found)} problem(s) found" + (":" if found else "."))
    for line in found:
        echo(f"  - {line}")
