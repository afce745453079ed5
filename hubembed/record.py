"""The run record: everything a finished run knows, typed, saved as `metrics.json` and loaded back.

The pipeline writes it, `hubembed eval` updates it through its methods, and the card renders from it. Frozen
dataclasses: a change is a new record (`dataclasses.replace` underneath), so nothing edits a shared dict. Files
written before the record had a `schema_version` (version 1) still load.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.errors import DataError
from hubembed.types import Score

METRICS_FILE = "metrics.json"
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class BaseModel:
    id: str
    source: str | None = None  # "hub", "local", "pypi:<distribution>"
    revision: str | None = None


@dataclass(frozen=True)
class DataStepReport:
    """One data step: the plugin it ran, the shape and size it gave, a fingerprint of its rows, its card stats."""

    name: str
    distribution: str
    version: str
    shape: str
    examples: int
    fingerprint: str
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainReport:
    loss: float
    runtime_s: float
    samples: int
    samples_per_s: float
    steps: int
    log_history: tuple[dict[str, Any], ...] = ()
    processes: int = 1
    per_process_batch_size: int | None = None
    global_batch_size: int | None = None
    negatives_per_anchor: int | None = None
    resumed_from: str | None = None
    kept_step: int | None = None  # the step whose weights were kept (best on the held-out split); None: no choice made
    eval_s: float = 0.0  # time spent evaluating the held-out split during training
    eval_metric: str | None = None  # the log-history key of that evaluation's headline (its curve on the card)


@dataclass(frozen=True)
class ScoreRow:
    """One score of the trained model next to the base model's (None when the base was not scored so)."""

    score: Score
    base: float | None

    @property
    def trained(self) -> float:
        return self.score.value

    @property
    def delta(self) -> float | None:
        return None if self.base is None else self.trained - self.base

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.score), "base": self.base, "trained": self.trained, "delta": self.delta}


@dataclass(frozen=True)
class Scores:
    base: tuple[Score, ...] = ()
    trained: tuple[Score, ...] = ()
    headline: str | None = None  # key (task/split/metric) of the score the summary and the card lead with

    def table(self) -> list[ScoreRow]:
        """The trained model's scores, each with the base model's value for the same task/split/metric."""
        base = {s.key: s.value for s in self.base}
        return [ScoreRow(s, base.get(s.key)) for s in self.trained]

    def headline_row(self) -> ScoreRow | None:
        rows = self.table()
        return next((r for r in rows if r.score.key == self.headline), None) or next(
            (r for r in rows if r.score.main), rows[0] if rows else None)

    def merged(self, base: list[Score], trained: list[Score], headline: str | None) -> Scores:
        """New values replace old ones of the same key, new keys are appended (`hubembed eval` on a run folder)."""
        return Scores(_merge(self.base, base), _merge(self.trained, trained), self.headline or headline)


def _merge(old: tuple[Score, ...], new: list[Score]) -> tuple[Score, ...]:
    fresh = {s.key: s for s in new}
    kept = [fresh.pop(s.key, s) for s in old]
    return tuple(kept + list(fresh.values()))


@dataclass(frozen=True)
class RunRecord:
    """What `metrics.json` holds. `model_card_data`: what sentence-transformers' own card data said about the
    trained model (losses, citations, logs, dataset statistics); `figures`: what evaluators drew for the card, by
    key, each with its `file`; `plugins`: summary and citation of every plugin used, so a card renders anywhere."""

    base_model: BaseModel
    data: tuple[DataStepReport, ...]
    scores: Scores
    train: TrainReport
    precision: str = ""
    hardware: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    started: str = ""  # ISO time, UTC
    duration_s: float = 0.0
    hubembed_version: str = ""
    requirements: tuple[str, ...] = ()
    weights: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)  # {"name", "stats"}: what the loss's build() reported
    model_card_data: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_evals: tuple[dict[str, Any], ...] = ()  # evaluators `hubembed eval` added that are not in the run
    held_out: dict[str, Any] | None = None  # the held-out split: origin, shape, rows, anchors, fingerprint (heldout.facts)
    gate: dict[str, Any] | None = None  # the last push gate decision (hubembed.gate): passed, overridden, conditions
    schema_version: int = SCHEMA_VERSION

    # -- changes: each returns a new record ---------------------------------------------------------------------
    def with_scores(self, base: list[Score], trained: list[Score], headline: str | None = None) -> RunRecord:
        return dataclasses.replace(self, scores=self.scores.merged(base, trained, headline))

    def with_figures(self, figures: dict[str, dict[str, Any]]) -> RunRecord:
        return dataclasses.replace(self, figures={**self.figures, **figures})

    def with_model_card_data(self, data: dict[str, Any]) -> RunRecord:
        return dataclasses.replace(self, model_card_data=data)

    def with_extra_evals(self, steps: list[dict[str, Any]], in_run: list[dict[str, Any]]) -> RunRecord:
        """Add the evaluator steps (`{name, distribution, version, params}`) not already in the run or listed."""
        seen = {_step_key(s) for s in [*in_run, *self.extra_evals]}
        added = []
        for step in steps:
            if _step_key(step) not in seen:
                seen.add(_step_key(step))
                added.append(step)
        return dataclasses.replace(self, extra_evals=(*self.extra_evals, *added))

    def with_plugins(self, plugins: dict[str, dict[str, Any]]) -> RunRecord:
        return dataclasses.replace(self, plugins={**self.plugins, **plugins})

    def with_gate(self, gate: dict[str, Any]) -> RunRecord:
        return dataclasses.replace(self, gate=gate)

    # -- metrics.json ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["scores"] = {"base": [dataclasses.asdict(s) for s in self.scores.base],
                         "trained": [dataclasses.asdict(s) for s in self.scores.trained], "headline": self.scores.headline}
        train = out.pop("train")
        out["train"] = {**train, "log_history": list(self.train.log_history)}
        return json.loads(json.dumps(out, default=_plain))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunRecord:
        """A record from metrics.json of any schema version; a file that is not one is a DataError line."""
        scores = raw.get("scores") if isinstance(raw, dict) else None
        if not (isinstance(scores, dict) and all(_rows(scores.get(k, [])) for k in ("base", "trained"))):
            raise DataError("it has no scores lists, so it is not a hubembed metrics file")
        version = raw.get("schema_version", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise DataError(f"it is a run record of schema version {version!r}, newer than this hubembed reads "
                            f"({SCHEMA_VERSION}); upgrade hubembed")
        try:
            raw = _upgrade(raw)
            return cls(
                base_model=BaseModel(**_known(BaseModel, raw["base_model"])),
                data=tuple(DataStepReport(**_known(DataStepReport, d)) for d in raw.get("data") or []),
                scores=Scores(tuple(_score(s) for s in raw["scores"].get("base") or []),
                              tuple(_score(s) for s in raw["scores"].get("trained") or []), raw["scores"].get("headline")),
                train=TrainReport(**{**_known(TrainReport, raw["train"]),
                                     "log_history": tuple(raw["train"].get("log_history") or [])}),
                **{k: _value(k, raw[k]) for k in _TOP if k in raw},
            )
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise DataError(f"it lacks or mistypes {err} of a hubembed run record") from None

    def save(self, folder: Path) -> Path:
        """Write metrics.json atomically: a reader sees the old record or the new one, never half of one."""
        path = Path(folder) / METRICS_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return path


def plugin_facts(plugin: Any) -> dict[str, Any]:
    """What the record keeps of a plugin (instance or class) for its card: its summary and citation."""
    return {"summary": plugin.summary, "citation": (plugin.citation or "").strip() or None}


def load(folder: Path) -> RunRecord:
    """The record of a run folder; one line naming the file when it cannot be read or is not a record."""
    path = Path(folder) / METRICS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON (cut short? {err.msg} at line {err.lineno})") from err
    try:
        return RunRecord.from_dict(raw)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


_TOP = ("precision", "hardware", "versions", "started", "duration_s", "hubembed_version", "requirements", "weights",
        "loss", "model_card_data", "figures", "plugins", "extra_evals", "held_out", "gate", "schema_version")


def _value(key: str, value: Any) -> Any:
    return tuple(value or ()) if key in ("requirements", "extra_evals") else value


def _rows(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(row, dict) for row in value)


def _known(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _score(values: dict[str, Any]) -> Score:
    return Score(**_known(Score, values))


V1_SCATTER_FACTS = ("pairs", "spearman_cosine", "pearson_cosine")  # the keys version 1 wrote (a count of STSB pairs)


def _v1_scatter_words(facts: dict[str, Any]) -> dict[str, str]:
    """The one figure version 1 files knew, with the words its card said about it."""
    count, spearman, pearson = (facts.get(k) for k in V1_SCATTER_FACTS)
    numbers = (f" ({count} pairs; Spearman {spearman:.4f}, Pearson {pearson:.4f})"
               if all(isinstance(v, (int, float)) for v in (count, spearman, pearson)) else "")
    return {"title": "STS Benchmark validation: predicted cosine similarity against the gold score",
            "caption": "Each point is one STS Benchmark validation pair: its gold similarity (0-5) against the cosine "
                       f"similarity of this model's embeddings{numbers}"}


def _upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 1 files (no schema_version): the card data and the scatter plot under `card`, no headline key."""
    if raw.get("schema_version", 1) >= 2:
        return raw
    raw = dict(raw)
    card = raw.pop("card", None) or {}
    raw["model_card_data"] = card.get("sentence_transformers") or {}
    scatter = card.get("stsb_scatter")
    raw["figures"] = {"stsb_scatter": {**_v1_scatter_words(scatter), **scatter}} if scatter else {}
    scores = dict(raw["scores"])
    if "headline" not in scores:  # version 1 led with STS Benchmark test Spearman where there was one
        trained = scores.get("trained") or []
        lead = [s for s in trained if (s.get("task"), s.get("split"), s.get("metric")) == ("STSB", "test", "spearman_cosine")]
        scores["headline"] = "STSB/test/spearman_cosine" if lead else None
    for side in ("base", "trained"):  # version 1 named every task but STSB "MTEB <task>" in the model-index
        scores[side] = [s if s.get("task") == "STSB" or s.get("task_name") else {**s, "task_name": f"MTEB {s.get('task')}"}
                        for s in scores.get(side) or []]
    raw["scores"] = scores
    raw["schema_version"] = SCHEMA_VERSION
    return raw


def _step_key(step: dict[str, Any]) -> tuple[str, str]:
    return str(step.get("name")), json.dumps(step.get("params"), sort_keys=True)


def _plain(value: Any) -> Any:
    """A value a plugin reported that JSON cannot encode: a numpy/torch scalar as its number, anything else as text,
    so it never costs the run."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "ndim", 1) == 0 else str(value)
