"""Run configuration: YAML file + CLI flags + `--set key=value` overrides -> a resolved, pinned run.

`RunConfig` is what the user asked for (names may be short, params partial). `resolve()` turns it into a
`ResolvedRun`: pinned plugin names with distribution and version, full params with defaults, plugin instances.
`ResolvedRun.to_dict()` is what `hubembed_run.yaml` holds; loading that file reproduces the run.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from hubembed.errors import ConfigError, DataError, HubembedError
from hubembed.registry import DEFAULT_TRAINER, HELD_OUT_EVALUATORS, defaults_of
from hubembed.types import Plugin, TrainingParams

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
RUN_FILE = "hubembed_run.yaml"
TOP_KEYS = ("model", "loss", "data", "eval_data", "trainer", "eval", "training", "output")


def cache_dir() -> Path:
    """Where hubembed keeps what it computes once (embeddings, built data): HUBEMBED_CACHE, else the XDG cache."""
    import os

    root = os.environ.get("HUBEMBED_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hubembed"
    return Path(root)


@dataclass(frozen=True)
class Step:
    """One plugin use: a name (short, owner.short or pinned) and its params as plain values."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunConfig:
    loss: Step | None = None
    data: tuple[Step, ...] | None = None  # None: the loss's default data chain
    trainer: Step = Step(DEFAULT_TRAINER)
    eval: tuple[Step, ...] | None = None  # None: the loss's default evaluators
    eval_data: tuple[Step, ...] = ()  # held-out rows the user gives (a data source), instead of a cut of the data
    model: str = DEFAULT_MODEL
    training: dict[str, Any] = field(default_factory=dict)
    output: str | None = None


def _step(value: Any, where: str) -> Step:
    if isinstance(value, str):
        return Step(value)
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        params = value.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{where}.params must be a mapping of param names to values")
        return Step(value["name"], dict(params))
    raise ConfigError(f"{where} must be a plugin name or a mapping with `name` and `params`")


def _steps(value: Any, where: str) -> tuple[Step, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(_step(v, f"{where}[{i}]") for i, v in enumerate(items))


def from_dict(raw: dict[str, Any], source: str = "config") -> RunConfig:
    unknown = sorted(set(raw) - set(TOP_KEYS) - {"hubembed_version", "command"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; a run config has {', '.join(TOP_KEYS)}")
    kwargs: dict[str, Any] = {}
    if raw.get("loss") is not None:
        kwargs["loss"] = _step(raw["loss"], "loss")
    if raw.get("trainer") is not None:
        kwargs["trainer"] = _step(raw["trainer"], "trainer")
    for key in ("data", "eval", "eval_data"):
        if key in raw and raw[key] is not None:
            kwargs[key] = _steps(raw[key], key)
    if raw.get("model") is not None:
        kwargs["model"] = str(raw["model"])
    if raw.get("training") is not None:
        if not isinstance(raw["training"], dict):
            raise ConfigError(f"{source}: training must be a mapping, e.g. training: {{epochs: 1}}")
        kwargs["training"] = dict(raw["training"])
    if raw.get("output") is not None:
        kwargs["output"] = str(raw["output"])
    return RunConfig(**kwargs)


def load(path: str | Path) -> RunConfig:
    return from_dict(read_run_file(path), str(path))


def read_run_file(path: str | Path) -> dict[str, Any]:
    """A run config or `hubembed_run.yaml` as a mapping; one line naming the file when it cannot be read or parsed
    (the one YAML reader of run files: `hubembed train --config`, `hubembed eval RUN_DIR`, the card)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config {path}: {getattr(err, 'strerror', None) or err}; check the path") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config {path} is not valid YAML{where}; fix the file") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a YAML mapping (model:, loss:, data:, ...)")
    return raw


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply `--set key=value` (value parsed as YAML): loss.X, trainer.X, training.X, data[.N|.name].X, eval..."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} is not key=value, e.g. --set loss.scale=30")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        cfg = _override(cfg, key.strip(), value)
    return cfg


def _override(cfg: RunConfig, key: str, value: Any) -> RunConfig:
    head, _, rest = key.partition(".")
    if head in ("model", "output") and not rest:
        return dataclasses.replace(cfg, **{head: str(value)})
    if head == "training" and rest:
        return dataclasses.replace(cfg, training={**cfg.training, rest: value})
    if head in ("loss", "trainer") and rest:
        step = getattr(cfg, head)
        if step is None:
            raise ConfigError(f"--set {key}: no {head} chosen yet; pass --plugin NAME first")
        return dataclasses.replace(cfg, **{head: Step(step.name, {**step.params, rest: value})})
    if head in ("data", "eval", "eval_data") and rest:
        steps = getattr(cfg, head)
        if steps is None:
            raise ConfigError(
                f"--set {key}: give the {head} steps explicitly (--{head} NAME) before setting their params"
            )
        return dataclasses.replace(cfg, **{head: _override_steps(steps, head, rest, value)})
    raise ConfigError(
        f"--set {key}: unknown key; use model, output, training.FIELD, loss.PARAM, trainer.PARAM, "
        f"data.PARAM (or data.N.PARAM / data.NAME.PARAM), eval.NAME.PARAM, eval_data.PARAM"
    )


def _short(name: str) -> str:
    """The short name in `nli`, `acme.qa` or `acme.qa.v2`."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _override_steps(steps: tuple[Step, ...], head: str, rest: str, value: Any) -> tuple[Step, ...]:
    selector, _, param = rest.partition(".")
    index: int | None = None
    if param:
        if selector.isdigit() and int(selector) < len(steps):
            index = int(selector)
        else:
            hits = [i for i, s in enumerate(steps) if selector in (s.name, _short(s.name))]
            index = hits[0] if len(hits) == 1 else None
    if index is None:
        if len(steps) != 1:
            names = ", ".join(s.name for s in steps)
            raise ConfigError(f"--set {head}.{rest}: say which step ({names}), e.g. {head}.0.PARAM or {head}.NAME.PARAM")
        index, param = 0, rest
    step = steps[index]
    new = Step(step.name, {**step.params, param: value})
    return steps[:index] + (new,) + steps[index + 1 :]


# --- params: plain values <-> the plugin's frozen Params dataclass -------------------------------------------


def make_params(params_cls: type, values: dict[str, Any], where: str) -> Any:
    """Build a Params instance, coercing YAML values to the declared types; one clear error per mistake."""
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise ConfigError(f"{where}: unknown param(s) {', '.join(unknown)}; its params are: {known}")
    hints = typing.get_type_hints(params_cls)
    coerced = {name: _coerce(value, hints.get(name, Any), f"{where}.{name}") for name, value in values.items()}
    try:
        return params_cls(**coerced)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from err


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a {_name(tp)}")
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [Any]
        items = value if isinstance(value, (list, tuple)) else [v.strip() for v in str(value).split(",") if v.strip()]
        return origin(_coerce(v, args[0], where) for v in items)
    if origin is dict:
        if isinstance(value, dict):
            return dict(value)
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {_name(tp)}, got {value!r}")


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def params_to_dict(params: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()}


# --- resolution: names pinned, params complete ------------------------------------------------------------------


@dataclass
class ResolvedStep:
    kind: str
    plugin: Plugin
    info: Any  # registry.PluginInfo

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.record(), "params": params_to_dict(self.plugin.params)}


@dataclass
class ResolvedRun:
    model: str
    loss: ResolvedStep
    data: list[ResolvedStep]
    trainer: ResolvedStep
    eval: list[ResolvedStep]
    training: TrainingParams
    output: str | None
    eval_data: list[ResolvedStep] = field(default_factory=list)

    def steps(self) -> list[ResolvedStep]:
        return [*self.data, *self.eval_data, self.loss, self.trainer, *self.eval]

    def to_dict(self) -> dict[str, Any]:
        from hubembed import __version__

        return {
            "hubembed_version": __version__,
            "model": self.model,
            "loss": self.loss.to_dict(),
            "data": [s.to_dict() for s in self.data],
            **({"eval_data": [s.to_dict() for s in self.eval_data]} if self.eval_data else {}),
            "trainer": self.trainer.to_dict(),
            "eval": [s.to_dict() for s in self.eval],
            "training": dataclasses.asdict(self.training),
            "output": self.output,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def with_defaults(cfg: RunConfig, reg: Any = None) -> RunConfig:
    """Fill in the loss's default data chain and evaluators, so `--set data.limit=N` works on them too."""
    from hubembed.registry import registry

    if cfg.loss is None:
        raise ConfigError("no loss chosen: pass --plugin NAME (see `hubembed plugins list --kind loss`)")
    default_data, default_eval = defaults_of((reg or registry()).resolve("loss", cfg.loss.name).load())
    # the held-out score leads when the user brought their own data; after the general benchmarks otherwise
    evaluators = (*HELD_OUT_EVALUATORS, *default_eval) if cfg.data is not None else (*default_eval, *HELD_OUT_EVALUATORS)
    return dataclasses.replace(
        cfg,
        data=cfg.data if cfg.data is not None else tuple(Step(n) for n in default_data),
        eval=cfg.eval if cfg.eval is not None else tuple(Step(n) for n in dict.fromkeys(evaluators)),
    )


def resolve(cfg: RunConfig, reg: Any = None, say: Callable[[str], None] | None = None) -> ResolvedRun:
    """Pin every plugin name and complete every params block; import plugin classes, never torch. A superseded
    plugin version is said once per process, with `say` (default: on stderr)."""
    from hubembed.registry import registry

    reg = reg or registry()
    cfg = with_defaults(cfg, reg)
    assert cfg.loss is not None and cfg.data is not None and cfg.eval is not None
    if not cfg.data:
        raise ConfigError("no data steps: pass --data NAME|PATH (see `hubembed plugins list --kind data`)")
    run = ResolvedRun(
        model=cfg.model,
        loss=_resolve_step(reg, "loss", cfg.loss, "loss"),
        data=[_resolve_step(reg, "data", s, f"data.{i}") for i, s in enumerate(cfg.data)],
        trainer=_resolve_step(reg, "trainer", cfg.trainer, "trainer"),
        eval=[_resolve_step(reg, "evaluator", s, f"eval.{i}") for i, s in enumerate(cfg.eval)],
        training=make_params(TrainingParams, cfg.training, "training"),
        output=cfg.output,
        eval_data=_resolve_eval_data(reg, cfg.eval_data),
    )
    _note_superseded(reg, run.steps(), say)
    return run


def _resolve_eval_data(reg: Any, steps: tuple[Step, ...]) -> list[ResolvedStep]:
    """The --eval-data step; a builder's hint names `--set data.X` (it is written for --data), here eval_data.X."""
    try:
        return [_resolve_step(reg, "data", s, f"eval_data.{i}") for i, s in enumerate(steps)]
    except DataError as err:
        raise DataError(str(err).replace("--set data.", "--set eval_data.")) from None


def resolve_data(steps: tuple[Step, ...], reg: Any = None, say: Callable[[str], None] | None = None) -> list[ResolvedStep]:
    """Pin the names and complete the params of data steps alone (`hubembed data build`)."""
    from hubembed.registry import registry

    if not steps:
        raise ConfigError("no data steps: pass --data NAME|PATH, a source and then any transforms (see `hubembed plugins list --kind data`)")
    reg = reg or registry()
    resolved = [_resolve_step(reg, "data", s, f"data.{i}") for i, s in enumerate(steps)]
    _note_superseded(reg, resolved, say)
    return resolved


_NOTED: set[tuple[str, str]] = set()  # (kind, pinned name) of superseded plugins already said in this process


def _note_superseded(reg: Any, steps: list[ResolvedStep], say: Callable[[str], None] | None) -> None:
    """A run may pin an older version on purpose (reproducing a run), so this is a notice, not an error."""
    for step in steps:
        info = step.info
        if (info.kind, info.name) in _NOTED:
            continue
        note = reg.superseded_note(info)
        if note is not None:
            _NOTED.add((info.kind, info.name))
            (say or _stderr)(f"note: {info.name} is {note}; this run uses {info.name} as pinned")


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr)


def resolve_evaluators(raw: Any, reg: Any = None) -> list[ResolvedStep]:
    """Pin and complete the evaluators of a run file's `eval:` list (what `hubembed eval RUN_DIR` alone scores)."""
    from hubembed.registry import registry

    steps = _steps(raw, "eval") if raw else ()
    return [_resolve_step(reg or registry(), "evaluator", s, f"eval.{i}") for i, s in enumerate(steps)]


def _resolve_step(reg: Any, kind: str, step: Step, where: str) -> ResolvedStep:
    info = reg.resolve(kind, step.name)
    cls = info.load()
    values = dict(step.params)
    if "__first__" in values:  # NAME:VALUE shorthand from the command line
        first = dataclasses.fields(cls.Params)
        if not first:
            raise ConfigError(f"{where}: {info.short} takes no params, so {step.name}:VALUE means nothing; drop :VALUE")
        values[first[0].name] = values.pop("__first__")
    params = make_params(cls.Params, values, f"{where} ({info.name})")
    plugin = cls(params)
    plugin.name = info.name
    return ResolvedStep(kind, plugin, info)


# --- CLI shorthands ----------------------------------------------------------------------------------------------

FILE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt", ".gz")  # what a data file's name ends with


def data_step(arg: str, reg: Any = None, flag: str = "--data") -> Step:
    """`--data NAME` is a plugin; `--data PATH` is a local file or folder, read by the source builder that claims it
    most surely (`DataBuilder.reads_file`: e.g. NLI-labelled files, plain text files, any pairs file)."""
    from hubembed.registry import registry

    if not Path(arg).exists():
        if "/" in arg or Path(arg).suffix.lower() in FILE_SUFFIXES:  # meant as a file, not a plugin name
            raise ConfigError(f"{flag} {arg}: no such file or folder (relative paths start from {Path.cwd()}); check the path")
        return Step(arg)
    claims = []
    reg = reg or registry()
    for info in reg.infos("data"):
        if info.error is None and info.load().consumes is None:
            claim = _claim(info, Path(arg))
            if claim is not None:
                claims.append((claim[0], info, claim[1]))
    if not claims:
        raise ConfigError(f"no installed data builder reads {arg}; name one with {flag} NAME (see `hubembed plugins list --kind data`)")
    surest = max(rank for rank, _, _ in claims)
    best = [(info, params) for rank, info, params in claims if rank == surest]
    if len(best) > 1:
        names = " and ".join(info.short for info, _ in best)
        raise ConfigError(f"both {names} read {arg}; name one with --data NAME and give the file with --set data.PARAM={arg}")
    info, params = best[0]
    return Step(_shortest_name(reg, info), params)


def _claim(info: Any, path: Path) -> tuple[int, dict[str, Any]] | None:
    """A builder's `reads_file(path)`; its own error lines pass through, anything else is its bug, said in one line."""
    from hubembed.errors import PluginError

    try:
        return info.load().reads_file(path)
    except HubembedError:
        raise
    except Exception as err:  # a third-party builder's bug must not hide which plugin it is
        raise PluginError(f"data plugin {info.name} from {info.distribution} {info.dist_version} failed to say whether it "
                          f"reads {path} ({type(err).__name__}: {err}); upgrade or uninstall {info.distribution}") from err


def _shortest_name(reg: Any, info: Any) -> str:
    """The short name if it resolves to `info` (built-ins, unique names), else owner.short."""
    try:
        if reg.resolve(info.kind, info.short).name.rsplit(".v", 1)[0] == info.name.rsplit(".v", 1)[0]:
            return info.short
    except HubembedError:
        pass  # ambiguous among owners: owner.short says which
    return f"{info.owner}.{info.short}"


def eval_step(arg: str) -> Step:
    """`--eval NAME` or `--eval NAME:VALUE` (VALUE sets the evaluator's first param, e.g. mteb:STSBenchmark)."""
    name, sep, value = arg.partition(":")
    return Step(name, {"__first__": value} if sep else {})
