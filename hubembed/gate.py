"""The push gate: may this run be pushed? Pure: a run record (and the scores of a team model's card) in, a decision
out, no I/O. `hubembed push` and `hubembed train --push` (hubembed/cli/hub.py) ask it before any upload, save the
decision in the run record (`gate`) and the card, and refuse the push (GateRefusedError, exit 3) when it fails.

The conditions:
- the headline score rose above the base model's by more than 0 (`min_gain` 0, the default) or by at least
  `min_gain`;
- no other main score (a general benchmark such as STSB or MTEB) fell by more than `max_drop` below the base's;
- with `against` (a team model), the headline beats the same metric on the same data in that model's card: same
  metric, dataset, split and dataset revision (the held-out split's fingerprint), compared at the card's 4 decimals.
A run with no scores at all is not checked (the user chose `--eval none`) and passes, saying so.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hubembed.errors import ConfigError

if TYPE_CHECKING:
    from hubembed.record import RunRecord, ScoreRow
    from hubembed.types import Score

DEFAULT_MIN_GAIN = 0.0
DEFAULT_MAX_DROP = 0.01
NOT_CHECKED = "not checked: the run has no scores"
CARD_DECIMALS = 4  # the model-index keeps 4 decimals (card.eval_results): a team card is compared at that precision


def decide(record: RunRecord, min_gain: float = DEFAULT_MIN_GAIN, max_drop: float = DEFAULT_MAX_DROP,
           against_scores: list[dict[str, Any]] | None = None, *, against: str | None = None,
           ignore: bool = False, folder: str = "RUN_DIR", now: datetime | None = None) -> dict[str, Any]:
    """The gate's decision on `record`: {passed, overridden, min_gain, max_drop, against, conditions, decided}.

    `against_scores`: the scores of the card of `against` ([{metric, dataset, split, revision, value}], as
    cli.hub reads a card's model-index); None without --against. `ignore`: --ignore-gate (overridden when the gate
    refused). `folder`: the run folder, named in the fix of a missing base score."""
    lead = record.scores.headline_row()
    if lead is None:
        conditions = [{"what": NOT_CHECKED, "passed": True}]
    else:
        conditions = [_gain(lead, min_gain, folder), *_drops(record, lead, max_drop)]
        if against is not None:
            conditions.append(_against(lead, against, against_scores or []))
    passed = all(c["passed"] for c in conditions)
    return {
        "passed": passed,
        "overridden": bool(ignore and not passed),
        "min_gain": float(min_gain),
        "max_drop": float(max_drop),
        "against": against,
        "conditions": conditions,
        "decided": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
    }


def refusal(decision: dict[str, Any]) -> list[str]:
    """The failed conditions, one line each: what a refused push prints."""
    return [c["what"] for c in decision["conditions"] if not c["passed"]]


def same(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """The same decision but for its time: a push of an unchanged run leaves the record (and its files) unchanged."""
    return old is not None and {**old, "decided": None} == {**new, "decided": None}


def threshold(flag: str, text: str | float | None, default: float) -> float:
    """The value of --min-gain or --max-drop (`default` when not given); a ConfigError line when it is no number,
    not finite, or negative."""
    if text is None:
        return default
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        why = "is not a number" if value is None else "is negative" if value < 0 else "is not a finite number"
        raise ConfigError(f"{flag} {text} {why}: give a number >= 0 (default {default:g}), or push without the "
                          f"gate's check with --ignore-gate")
    return value


def label(score: Score) -> str:
    return f"{score.task} {score.split} {score.metric}"


def _gain(lead: ScoreRow, min_gain: float, folder: str) -> dict[str, Any]:
    needs = "a gain > 0" if min_gain == 0 else f"a gain >= {min_gain:g} (--min-gain)"
    if lead.base is None:
        return {"what": f"headline {label(lead.score)}: the base model has no score to compare with, so no gain "
                        f"is shown; score the base model with `hubembed eval {folder} --base`", "passed": False}
    delta = lead.trained - lead.base
    ok = delta > 0 if min_gain == 0 else delta >= min_gain - 1e-12
    return {"what": f"headline {label(lead.score)}: {lead.base:.4f} -> {lead.trained:.4f} ({delta:+.4f}); the gate "
                    f"needs {needs}", "passed": bool(ok)}


def _drops(record: RunRecord, lead: ScoreRow, max_drop: float) -> list[dict[str, Any]]:
    """One condition per other main score with a base value: it fell by at most `max_drop`."""
    out = []
    for row in record.scores.table():
        if not row.score.main or row.score.task == lead.score.task or row.base is None:
            continue
        drop = row.base - row.trained
        out.append({"what": f"general {label(row.score)}: {row.base:.4f} -> {row.trained:.4f} ({-drop:+.4f}); the "
                            f"gate allows a drop of at most {max_drop:g} (--max-drop)",
                    "passed": bool(drop <= max_drop + 1e-12)})
    return out


def _data(metric: str, split: str, dataset: str, revision: str | None) -> str:
    return f"{metric} on {split} of {dataset}" + (f"@{revision}" if revision else "")


def _against(lead: ScoreRow, against: str, theirs: list[dict[str, Any]]) -> dict[str, Any]:
    s = lead.score
    wanted = _data(s.metric, s.split, s.dataset, s.revision)
    match = next((t for t in theirs if (t.get("metric"), t.get("dataset"), t.get("split"), t.get("revision") or None)
                  == (s.metric, s.dataset, s.split, s.revision or None)), None)
    if match is None:
        other = [t.get("revision") for t in theirs if (t.get("metric"), t.get("dataset"), t.get("split"))
                 == (s.metric, s.dataset, s.split)]
        elsewhere = f" (it has one on other data: revision {other[0] or 'none'})" if other else ""
        return {"what": f"--against {against}: not comparable, their card has no {wanted}{elsewhere}",
                "passed": False}
    ours, value = round(lead.trained, CARD_DECIMALS), float(match["value"])
    return {"what": f"--against {against}: {ours:.4f} against their {value:.4f} ({wanted}); the gate needs a "
                    f"higher score", "passed": bool(ours > value)}
