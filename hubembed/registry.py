"""Find plugins through entry points, lazily, and load them with their shape checked.

One entry-point group per kind. The entry point's name is the plugin's pinned name (`owner.name.vN`), so listing
names and distributions reads package metadata only; a plugin's module is imported when it is first used (or
shown), and a module that fails to import or breaks the contract (including Params that a run file and
metrics.json cannot carry) is reported without breaking the others.

Plugins can also come from a local file (`--code file.py`, or `HUBEMBED_CODE=a.py:b.py`, which child processes
inherit): every plugin class the file defines is registered as `local.<file stem>.v1` unless it sets
`name = "owner.name.vN"`. Those show their file as distribution and a content hash as version.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.metadata as md
import importlib.util
import os
import re
import sys
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Union

from hubembed.errors import ConfigError, HubembedError, PluginError, UnknownPluginError
from hubembed.types import BASES, KINDS, SHAPES, Flag, Plugin

GROUPS = {
    "data": "hubembed.data_builders",
    "loss": "hubembed.losses",
    "trainer": "hubembed.trainers",
    "evaluator": "hubembed.evaluators",
}
NAME_RE = re.compile(r"^(?P<owner>[a-z0-9][a-z0-9_-]*)\.(?P<name>[a-z0-9][a-z0-9_-]*)\.v(?P<version>[0-9]+)$")
RESERVED_OWNER = "hubembed"
BUILTIN_DISTRIBUTION = "hubembed"
CODE_ENV = "HUBEMBED_CODE"  # local plugin files, os.pathsep-separated (set by --code; inherited by subprocesses)
LOCAL_OWNER = "local"
LOCAL_PREFIX = "file:"  # distribution of a plugin from a local file: file:/abs/path.py

# The built-ins the core falls back on (the only place the core names a built-in plugin):
DEFAULT_TRAINER = "full"  # a run that names no trainer
DEFAULT_DATA = ("nli",)  # a loss that names no default data chain
DEFAULT_EVALUATORS = ("stsb",)  # a loss that names no default evaluators; `hubembed eval MODEL` with no evaluator flag
HELD_OUT_EVALUATORS = ("in-domain",)  # scored in every run that names no evaluators: the run's own held-out rows
OLD_SPELLINGS = {"cached_mnr": "cached-mnr"}  # built-in short names before they were spelled with hyphens


@dataclass
class PluginInfo:
    """A registered plugin: everything known from metadata, and the class once loaded."""

    kind: str
    name: str  # pinned: owner.name.vN
    value: str  # module:attribute
    distribution: str
    dist_version: str
    loader: Any = field(default=None, repr=False)  # EntryPoint (or a class given directly)
    _cls: type[Plugin] | None = field(default=None, repr=False)
    _error: str | None = None
    _cause: BaseException | None = field(default=None, repr=False)  # the plugin's own exception, for HUBEMBED_DEBUG=1

    @property
    def owner(self) -> str:
        return self.name.split(".")[0]

    @property
    def short(self) -> str:
        return self.name.split(".")[1]

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])

    def load(self) -> type[Plugin]:
        """Import the plugin class and check its shape; raise PluginError naming the distribution."""
        if self._cls is None and self._error is None:
            try:
                cls = self.loader if isinstance(self.loader, type) else self.loader.load()
                _validate(self.kind, cls)
                self._cls = cls
            except Exception as err:  # any failure in third-party code becomes a report, not a crash
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                self._error = f"{type(err).__name__}: {reason}" if not isinstance(err, PluginError) else reason
                self._cause = None if isinstance(err, PluginError) else err
        if self._error is not None:
            fix = "fix the file" if self.is_local else f"upgrade or uninstall {self.distribution}"
            raise PluginError(
                f"plugin {self.name} from {self.distribution} {self.dist_version} is broken ({self._error}); {fix}"
            ) from self._cause  # chained, so HUBEMBED_DEBUG=1 shows where the plugin's own code failed
        assert self._cls is not None
        return self._cls

    @property
    def error(self) -> str | None:
        """The reason this plugin cannot be used, or None (loads it to find out)."""
        try:
            self.load()
        except PluginError:
            return self._error
        return None

    def record(self) -> dict[str, str]:
        """What a run writes down about the plugin it used."""
        return {"name": self.name, "distribution": self.distribution, "version": self.dist_version}

    @property
    def is_local(self) -> bool:
        """Registered from a local file (--code), not from an installed distribution."""
        return self.distribution.startswith(LOCAL_PREFIX)


def defaults_of(loss_cls: type[Plugin]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The data chain and evaluators a loss trains and scores with when the run names none."""
    data = loss_cls.default_data  # type: ignore[attr-defined]
    evaluators = loss_cls.default_eval  # type: ignore[attr-defined]
    return (DEFAULT_DATA if data is None else tuple(data)), (DEFAULT_EVALUATORS if evaluators is None else tuple(evaluators))


def current_spelling(name: str) -> str:
    """A built-in's name as spelled today: `cached_mnr`, `hubembed.cached_mnr.v1` -> `cached-mnr`, ... (old run
    files keep resolving)."""
    parts = name.split(".")
    at = 0 if len(parts) == 1 else 1 if parts[0] == RESERVED_OWNER else None
    if at is None or parts[at] not in OLD_SPELLINGS:
        return name
    parts[at] = OLD_SPELLINGS[parts[at]]
    return ".".join(parts)


def _validate(kind: str, cls: Any) -> None:
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{cls!r} is not a subclass of hubembed.types.{base.__name__}")
    if not is_dataclass(cls.Params) or not cls.Params.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise PluginError(f"{cls.__name__}.Params must be a frozen dataclass")
    _validate_params(cls.Params)
    if not cls.summary:
        raise PluginError(f"{cls.__name__} has no one-line `summary`")
    shapes = {"data": ("produces",), "loss": ("expects",)}.get(kind, ())
    for attr in shapes:
        declared = getattr(cls, attr)
        if not declared:
            raise PluginError(f"{cls.__name__}.{attr} is empty")
        unknown = [s for s in declared if s not in SHAPES]
        if unknown:
            raise PluginError(f"{cls.__name__}.{attr} names unknown shapes {unknown}; known: {sorted(SHAPES)}")
    if kind == "data" and cls.consumes is not None:
        unknown = [s for s in cls.consumes if s not in SHAPES]
        if unknown:
            raise PluginError(f"{cls.__name__}.consumes names unknown shapes {unknown}")
    method = {"data": "build", "loss": "build", "evaluator": "evaluate"}.get(kind)  # a trainer may use the core's runner
    if method and getattr(cls, method) is getattr(base, method):
        raise PluginError(f"{cls.__name__} does not implement {method}()")
    _validate_flags(kind, cls)


FLAG_RE = re.compile(r"^--[a-z0-9][a-z0-9-]*$")


def _validate_flags(kind: str, cls: Any) -> None:
    """Flags a command line can carry: `--lowercase-words`, only on trainers and evaluators, setting a real param."""
    if cls.flags and kind not in ("trainer", "evaluator"):
        raise PluginError(f"{cls.__name__}.flags: only trainers and evaluators add command-line flags")
    params = {f.name for f in fields(cls.Params)}
    for flag in cls.flags:
        if not isinstance(flag, Flag):
            raise PluginError(f"{cls.__name__}.flags holds {flag!r}; give hubembed.api.Flag(...) values")
        if not FLAG_RE.match(flag.name):
            raise PluginError(f"{cls.__name__} flag {flag.name!r}: name it --lowercase-words-with-hyphens")
        if flag.param is not None and flag.param not in params:
            raise PluginError(f"{cls.__name__} flag {flag.name} sets param {flag.param!r}, which its Params lack")


# --- Params a run file can carry ------------------------------------------------------------------------------
# Params values go to hubembed_run.yaml, metrics.json and the card: a type that YAML and JSON cannot carry would
# fail a run at its end (when the card is written), so such a plugin is refused when its class loads.

SCALARS = (str, int, float, bool, type(None))
CARRIED = "use str, int, float, bool, None, Literal[...], or tuples, lists or dicts (str keys) of those"
BARE_EXAMPLE = {list: "list[str]", tuple: "tuple[str, ...]", dict: "dict[str, str]"}


def _validate_params(params_cls: type) -> None:
    """Every field: a type a run file and metrics.json can carry, and a default of that type."""
    try:
        hints = typing.get_type_hints(params_cls)
    except Exception as err:  # an annotation naming something the module does not define
        raise PluginError(f"Params annotations cannot be resolved ({err}); import the types they name") from None
    for f in fields(params_cls):
        tp = hints.get(f.name)
        if tp is None:
            raise PluginError(f"param {f.name} has no type annotation")
        problem = _carry_problem(tp)
        if problem:
            raise PluginError(f"param {f.name}: {problem}")
        if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
            raise PluginError(f"param {f.name} has no default; every param needs one (field(default=...))")
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        if not _fits(default, tp):
            raise PluginError(
                f"param {f.name}: default {default!r} is not of the declared type {_type_name(tp)}; "
                f"give a default of that type"
            )


def _carry_problem(tp: Any) -> str | None:
    """Why YAML and JSON cannot carry values of type `tp` (and bring them back as that type), or None."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in SCALARS or tp is None:
        return None
    if origin is Literal:
        bad = [a for a in args if type(a) not in SCALARS]
        return f"Literal values must be str, int, float, bool or None, not {bad!r}" if bad else None
    if origin in (Union, types.UnionType):
        return next((p for p in map(_carry_problem, args) if p), None)
    if tp in BARE_EXAMPLE or (origin in BARE_EXAMPLE and not args):
        bare = origin or tp
        return f"a bare {bare.__name__} does not say what it holds; write e.g. {BARE_EXAMPLE[bare]}"
    if origin in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        if len(set(items)) > 1:  # a run file's list comes back with every item read as the first type
            return f"{_type_name(tp)} mixes item types, which a run file cannot keep apart; use one item type, e.g. tuple[str, ...]"
        return _carry_problem(items[0])
    if origin is dict:
        if args[0] is not str:
            return f"dict keys must be str (keys in YAML and JSON are strings); write dict[str, {_type_name(args[1])}]"
        return _carry_problem(args[1])
    return f"{_type_name(tp)} cannot be written to hubembed_run.yaml and metrics.json; {CARRIED}"


def _fits(value: Any, tp: Any) -> bool:
    """`value` is of type `tp` (an int counts as a float; a bool counts as neither int nor float, as in run files)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is None or tp is type(None):
        return value is None
    if tp in (str, bool):
        return isinstance(value, tp)
    if tp in (int, float):
        return isinstance(value, (int, float) if tp is float else int) and not isinstance(value, bool)
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin in (list, tuple):
        return isinstance(value, origin) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and _fits(v, args[1]) for k, v in value.items())
    return False


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) and not typing.get_args(tp) else str(tp).replace("typing.", "")


def _a(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _allowed_distributions() -> set[str] | None:
    """HUBEMBED_DISABLE_PLUGIN_AUTOLOAD=1 keeps only the built-ins; HUBEMBED_PLUGINS=a,b adds those distributions."""
    listed = {d.strip() for d in os.environ.get("HUBEMBED_PLUGINS", "").split(",") if d.strip()}
    if os.environ.get("HUBEMBED_DISABLE_PLUGIN_AUTOLOAD") == "1" or listed:
        return {"hubembed"} | listed
    return None


class Registry:
    """All plugins of all kinds. Use the module-level `registry()`; `reset()` forgets what was found."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, PluginInfo]] = {k: {} for k in KINDS}
        self.problems: list[str] = []  # registration problems that are not one plugin's fault
        allowed = _allowed_distributions()
        for path in code_paths():  # explicit, so never filtered by the allowlist
            try:
                for kind, name, cls, version in load_code(path):
                    self.add_class(kind, name, cls, distribution=f"{LOCAL_PREFIX}{path}", version=version)
            except HubembedError as err:
                self.problems.append(str(err))
        for kind in KINDS:
            for ep in md.entry_points(group=GROUPS[kind]):
                dist = ep.dist
                if allowed is not None and (dist.name if dist else "") not in allowed:
                    continue
                self._add(
                    PluginInfo(
                        kind,
                        ep.name,
                        ep.value,
                        dist.name if dist else "<unknown>",
                        dist.version if dist else "?",
                        loader=ep,
                    )
                )

    def _add(self, info: PluginInfo) -> None:
        if not NAME_RE.match(info.name):
            self.problems.append(
                f"{info.distribution} registers {info.kind} plugin {info.name!r}: names must look like owner.name.v1"
            )
            return
        if info.owner == RESERVED_OWNER and info.distribution != BUILTIN_DISTRIBUTION:
            self.problems.append(
                f"{info.distribution} registers {info.kind} plugin {info.name!r}: the `{RESERVED_OWNER}.` owner is "
                f"reserved for built-ins; rename it to <your-owner>.{info.short}.v{info.version}"
            )
            return
        existing = self._by_kind[info.kind].get(info.name)
        if existing is not None:
            if (existing.distribution, existing.value) == (info.distribution, info.value):
                return  # the same distribution seen twice on sys.path
            # Never a silent overwrite: the name becomes unusable until one of the two is uninstalled.
            existing._error = (
                f"registered twice: by {existing.distribution} {existing.dist_version} and by "
                f"{info.distribution} {info.dist_version}; uninstall one of them"
            )
            existing._cls = None
            return
        self._by_kind[info.kind][info.name] = info

    def add_class(
        self, kind: str, name: str, cls: type[Plugin], distribution: str = "<local>", version: str = "0"
    ) -> PluginInfo:
        """Register a class directly (plugins from a local file, tests)."""
        info = PluginInfo(kind, name, f"{cls.__module__}:{cls.__qualname__}", distribution, version, loader=cls)
        self._add(info)
        return info

    def infos(self, kind: str | None = None) -> list[PluginInfo]:
        kinds = [kind] if kind else list(KINDS)
        return [info for k in kinds for _, info in sorted(self._by_kind[k].items())]

    def resolve(self, kind: str, name: str) -> PluginInfo:
        """`hubembed.mnr.v1`, `hubembed.mnr` or `mnr` -> the plugin (highest version when not pinned)."""
        found = self._lookup(kind, name)
        if len(found) > 1:
            choices = ", ".join(f"{i.owner}.{i.short}" for i in found)
            raise UnknownPluginError(f"{kind} plugin name {name!r} is ambiguous: use one of {choices}")
        if found:
            return found[0]
        raise UnknownPluginError(self._unknown_message(kind, name))

    def _lookup(self, kind: str, name: str) -> list[PluginInfo]:
        """What `name` means among the plugins of `kind`: nothing, one plugin, or one per owner (ambiguous)."""
        plugins = self._by_kind[kind]
        name = current_spelling(name)
        if name in plugins:
            return [plugins[name]]
        parts = name.split(".")
        if len(parts) == 1:
            matches = [i for i in plugins.values() if i.short == name]
            if RESERVED_OWNER in {i.owner for i in matches}:  # built-ins keep their short names
                matches = [i for i in matches if i.owner == RESERVED_OWNER]
        elif len(parts) == 2:
            matches = [i for i in plugins.values() if (i.owner, i.short) == tuple(parts)]
        else:
            matches = []
        newest: dict[str, PluginInfo] = {}
        for info in matches:
            if info.owner not in newest or info.version > newest[info.owner].version:
                newest[info.owner] = info
        return [newest[owner] for owner in sorted(newest)]

    def find(self, name: str, kind: str | None = None) -> PluginInfo:
        """`name` among all kinds (or one, as `--kind` asks): the plugin, or one line naming the candidates with
        their kinds (ambiguous), the kind it is in (`--kind` of another kind), or the closest name in any kind."""
        hits = [info for k in ([kind] if kind else KINDS) for info in self._lookup(k, name)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            kinds = list(dict.fromkeys(i.kind for i in hits))
            fixes = [] if len({i.name for i in hits}) < len(hits) else ["give one of these names"]
            if len(kinds) > 1:
                fixes.append("add " + " or ".join(f"--kind {k}" for k in kinds))
            choices = ", ".join(f"{i.name} ({i.kind})" for i in hits)
            raise UnknownPluginError(f"{name!r} is ambiguous: {choices}; {', or '.join(fixes)}")
        if kind is not None:
            elsewhere = [k for k in KINDS if k != kind and self._lookup(k, name)]
            if elsewhere:
                raise UnknownPluginError(
                    f"unknown {kind} plugin {name!r}: it is {_a(elsewhere[0])} {' and '.join(elsewhere)} plugin; "
                    f"use --kind {elsewhere[0]} or drop --kind"
                )
            return self.resolve(kind, name)  # raises, with the names of that kind
        if name.split(".")[0] == LOCAL_OWNER and len(name.split(".")) > 1:
            raise UnknownPluginError(f"unknown plugin {name!r}: local.* plugins come from a file; pass --code FILE.py")
        kinds_of: dict[str, list[str]] = {}
        for info in self.infos():
            for spelling in (info.short, f"{info.owner}.{info.short}", info.name):
                kinds_of.setdefault(spelling, [])
                if info.kind not in kinds_of[spelling]:
                    kinds_of[spelling].append(info.kind)
        close = difflib.get_close_matches(name, sorted(kinds_of), n=1)
        hint = f"did you mean {close[0]!r} ({', '.join(kinds_of[close[0]])})? " if close else ""
        raise UnknownPluginError(f"unknown plugin {name!r}: {hint}see `hubembed plugins list`")

    def superseded_by(self, info: PluginInfo) -> str | None:
        """The pinned name that replaces `info`: a newer installed version of the same owner.name, else the class's
        own `superseded_by` (not when it names `info` itself: a v2 subclass inherits the attribute from v1)."""
        newer = [i for i in self._by_kind[info.kind].values() if (i.owner, i.short) == (info.owner, info.short)]
        newest = max(newer, key=lambda i: i.version, default=info)
        if newest.version > info.version:
            return newest.name
        declared = info.load().superseded_by if info.error is None else None
        return declared if declared and declared != info.name else None

    def superseded_note(self, info: PluginInfo) -> str | None:
        """`superseded by acme.x.v2 (installed; `acme.x` resolves to it)`, for listings and run notices; or None."""
        newer = self.superseded_by(info)
        if newer is None:
            return None
        try:
            self.resolve(info.kind, newer)
        except UnknownPluginError:
            return f"superseded by {newer} (not installed here)"
        owner_short = f"{info.owner}.{info.short}"
        same_name = newer.rsplit(".v", 1)[0] == owner_short
        return f"superseded by {newer} (installed; `{owner_short}` resolves to it)" if same_name else f"superseded by {newer} (installed)"

    def _unknown_message(self, kind: str, name: str) -> str:
        names = sorted({i.short for i in self._by_kind[kind].values()} | set(self._by_kind[kind]))
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        available = ", ".join(sorted({i.short for i in self._by_kind[kind].values()})) or "none installed"
        if name.split(".")[0] == LOCAL_OWNER and len(name.split(".")) > 1:
            return f"unknown {kind} plugin {name!r}: local.* plugins come from a file; pass --code FILE.py (available: {available})"
        return f"unknown {kind} plugin {name!r}: {hint}available: {available} (see `hubembed plugins list`)"

    def load(self, kind: str, name: str) -> tuple[PluginInfo, type[Plugin]]:
        info = self.resolve(kind, name)
        return info, info.load()

    def create(self, kind: str, name: str, params: Any = None) -> Plugin:
        info, cls = self.load(kind, name)
        plugin = cls(params)
        plugin.name = info.name
        return plugin


# --- plugins from a local file (--code) ----------------------------------------------------------------------


def code_paths() -> list[str]:
    return [p for p in os.environ.get(CODE_ENV, "").split(os.pathsep) if p]


def _local_name(stem: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_") or "plugin"


def load_code(path: str | Path) -> list[tuple[str, str, type[Plugin], str]]:
    """Import a local .py file; return (kind, name, class, version) of each plugin class it defines.

    The name is the class's `name` attribute when it sets one, else `local.<file stem>.v1`; the version is
    `sha256:` and the first 12 hex digits of the file, so a run records exactly which code it used.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file() or file.suffix != ".py":
        raise ConfigError(f"--code {path}: not a Python file; give the path of a .py file that defines a plugin class")
    source = file.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    module_name = f"hubembed_code_{re.sub(r'[^A-Za-z0-9_]', '_', file.stem)}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # third-party code: any failure becomes one line
            del sys.modules[module_name]
            reason = str(err).splitlines()[0] if str(err) else ""
            raise PluginError(f"cannot import --code {file} ({type(err).__name__}: {reason}); fix the file") from err
    found: list[tuple[str, str, type[Plugin], str]] = []
    seen: dict[tuple[str, str], str] = {}
    for obj in list(vars(module).values()):
        if not (isinstance(obj, type) and obj.__module__ == module_name and issubclass(obj, Plugin)):
            continue
        kind = next((k for k, base in BASES.items() if issubclass(obj, base)), None)
        if kind is None or obj in BASES.values():
            continue
        name = obj.__dict__.get("name") or f"{LOCAL_OWNER}.{_local_name(file.stem)}.v1"
        if (kind, name) in seen:
            raise PluginError(
                f"--code {file} defines two {kind} plugins named {name} ({seen[kind, name]}, {obj.__name__}); "
                f'give each a class attribute name = "local.NAME.v1"'
            )
        seen[kind, name] = obj.__name__
        found.append((kind, name, obj, f"sha256:{digest}"))
    if not found:
        raise PluginError(
            f"--code {file} defines no plugin class; subclass hubembed.types.DataBuilder, Loss, Trainer or Evaluator"
        )
    return found


def use_code(paths: list[str] | tuple[str, ...], strict: bool = True) -> Registry:
    """Register the plugins of local files for this process and the processes it starts (`--code`).

    strict: each file is imported first, so a file that fails to import stops here with one line (for runs);
    otherwise its failure becomes one of `registry().problems` (for listings).
    """
    resolved = [str(Path(p).expanduser().resolve()) for p in paths]
    for path in resolved:
        if strict:
            load_code(path)
        elif not Path(path).is_file():
            raise ConfigError(f"--code {path}: no such file; give the path of a .py file that defines a plugin class")
    merged = list(dict.fromkeys(code_paths() + resolved))
    os.environ[CODE_ENV] = os.pathsep.join(merged)
    reset()
    return registry()


# --- what a run needs installed ------------------------------------------------------------------------------


def requirements(records: list[dict[str, str]]) -> list[str]:
    """pip requirement lines for the distributions that provided these plugins (`name==version`, one each).

    Plugins from a local file cannot be installed with pip: they come back as a comment naming the file.
    """
    lines: dict[str, str] = {}
    for rec in records:
        dist, version = rec.get("distribution", ""), rec.get("version", "")
        if dist.startswith(LOCAL_PREFIX):
            lines.setdefault(dist, f"# {rec['name']}: local file {dist[len(LOCAL_PREFIX):]} ({version}); pass --code FILE")
        elif dist and not dist.startswith("<"):  # <unknown>, <local>: classes registered in-process
            lines.setdefault(dist, f"{dist}=={version}" if version and version != "?" else dist)
    order = {dist: (dist.startswith(LOCAL_PREFIX), dist != BUILTIN_DISTRIBUTION, dist.lower()) for dist in lines}
    return [lines[dist] for dist in sorted(lines, key=order.__getitem__)]


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry()


def reset() -> None:
    """Forget discovered plugins (after installing a distribution, or in tests)."""
    import importlib

    importlib.invalidate_caches()  # importlib.metadata caches directory listings of sys.path entries
    registry.cache_clear()
