"""Find plugins through entry points, lazily, and load them with their shape checked.

One entry-point group per kind. The entry point's name is the plugin's pinned name (`owner.name.vN`), so listing
names and distributions reads package metadata only; a plugin's module is imported when it is first used (or
shown), and a module that fails to import or breaks the contract is reported without breaking the others.
"""

from __future__ import annotations

import difflib
import os
import importlib.metadata as md
import re
from dataclasses import dataclass, field, is_dataclass
from functools import lru_cache
from typing import Any

from hubembed.errors import PluginError, UnknownPluginError
from hubembed.types import BASES, KINDS, SHAPES, Plugin

GROUPS = {
    "data": "hubembed.data_builders",
    "loss": "hubembed.losses",
    "trainer": "hubembed.trainers",
    "evaluator": "hubembed.evaluators",
}
NAME_RE = re.compile(r"^(?P<owner>[a-z0-9][a-z0-9_-]*)\.(?P<name>[a-z0-9][a-z0-9_-]*)\.v(?P<version>[0-9]+)$")
RESERVED_OWNER = "hubembed"


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
        if self._error is not None:
            raise PluginError(
                f"plugin {self.name} from {self.distribution} {self.dist_version} is broken ({self._error}); "
                f"upgrade or uninstall {self.distribution}"
            )
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


def _validate(kind: str, cls: Any) -> None:
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{cls!r} is not a subclass of hubembed.types.{base.__name__}")
    if not is_dataclass(cls.Params) or not cls.Params.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise PluginError(f"{cls.__name__}.Params must be a frozen dataclass")
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
    method = {"data": "build", "loss": "build", "trainer": "train", "evaluator": "evaluate"}[kind]
    if getattr(cls, method) is getattr(base, method):
        raise PluginError(f"{cls.__name__} does not implement {method}()")


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

    def add_class(self, kind: str, name: str, cls: type[Plugin], distribution: str = "<local>") -> PluginInfo:
        """Register a class directly (plugins from a local file, tests)."""
        info = PluginInfo(kind, name, f"{cls.__module__}:{cls.__qualname__}", distribution, "0", loader=cls)
        self._add(info)
        return info

    def infos(self, kind: str | None = None) -> list[PluginInfo]:
        kinds = [kind] if kind else list(KINDS)
        return [info for k in kinds for _, info in sorted(self._by_kind[k].items())]

    def resolve(self, kind: str, name: str) -> PluginInfo:
        """`hubembed.mnr.v1`, `hubembed.mnr` or `mnr` -> the plugin (highest version when not pinned)."""
        plugins = self._by_kind[kind]
        if name in plugins:
            return plugins[name]
        parts = name.split(".")
        if len(parts) == 1:
            matches = [i for i in plugins.values() if i.short == name]
            owners = {i.owner for i in matches}
            if len(owners) > 1:  # built-ins keep their short names; others are reached as owner.name
                if RESERVED_OWNER in owners:
                    matches = [i for i in matches if i.owner == RESERVED_OWNER]
                else:
                    choices = ", ".join(sorted({f"{i.owner}.{i.short}" for i in matches}))
                    raise UnknownPluginError(f"{kind} plugin name {name!r} is ambiguous: use one of {choices}")
        elif len(parts) == 2:
            matches = [i for i in plugins.values() if (i.owner, i.short) == tuple(parts)]
        else:
            matches = []
        if matches:
            return max(matches, key=lambda i: i.version)
        raise UnknownPluginError(self._unknown_message(kind, name))

    def _unknown_message(self, kind: str, name: str) -> str:
        names = sorted({i.short for i in self._by_kind[kind].values()} | set(self._by_kind[kind]))
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        available = ", ".join(sorted({i.short for i in self._by_kind[kind].values()})) or "none installed"
        return f"unknown {kind} plugin {name!r}: {hint}available: {available} (see `hubembed plugins list`)"

    def load(self, kind: str, name: str) -> tuple[PluginInfo, type[Plugin]]:
        info = self.resolve(kind, name)
        return info, info.load()

    def create(self, kind: str, name: str, params: Any = None) -> Plugin:
        info, cls = self.load(kind, name)
        plugin = cls(params)
        plugin.name = info.name
        return plugin


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry()


def reset() -> None:
    """Forget discovered plugins (after installing a distribution, or in tests)."""
    import importlib

    importlib.invalidate_caches()  # importlib.metadata caches directory listings of sys.path entries
    registry.cache_clear()
