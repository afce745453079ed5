"""The push gate (issue #13): `decide` on constructed records, then the real commands against LocalHub with the tiny
model, scored on its held-out rows (the headline) and STSB (general): a run made worse on purpose (learning rate 1)
is refused by `train --push` with exit code 3 and nothing
reaches the server; `hubembed push --ignore-gate` pushes it and its record and card say so; `--against` a team
model's card, comparable (better, worse) and not; a run with no scores pushes unchecked; bad thresholds fail before
training.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError
from localhub_fixtures import ALICE, invoke

from hubembed import gate
from hubembed.bundled import NLI_SAMPLE
from hubembed.errors import ConfigError, GateRefusedError
from hubembed.record import BaseModel, RunRecord, Scores, TrainReport
from hubembed.types import Score

# -- decide on constructed records ------------------------------------------------------------------------------
STSB = dict(task="STSB", task_type="semantic-similarity", dataset="sentence-transformers/stsb", dataset_name="STSB",
            split="test", metric="spearman_cosine", revision="ab12cd34", main=True)
HELD = dict(task="in-domain", task_type="Retrieval", dataset="nli-all.csv", dataset_name="nli-all.csv (held-out)",
            split="held-out", metric="ndcg_at_10", revision="1a2b3c4d", main=True)
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def record(held: tuple[float | None, float] | None = (0.50, 0.60), stsb: tuple[float | None, float] | None = (0.80, 0.80),
           headline: str | None = "in-domain/held-out/ndcg_at_10") -> RunRecord:
    """A run record whose trained scores are (base, trained) pairs; a base of None: the base was not scored."""
    base, trained = [], []
    for fields, pair in ((HELD, held), (STSB, stsb)):
        if pair is not None:
            trained.append(Score(**fields, value=pair[1]))
            if pair[0] is not None:
                base.append(Score(**fields, value=pair[0]))
    return RunRecord(BaseModel("sentence-transformers/all-MiniLM-L6-v2"), (), Scores(tuple(base), tuple(trained), headline),
                     TrainReport(loss=1.0, runtime_s=1.0, samples=8, samples_per_s=8.0, steps=1))


def theirs(value: float, **changes) -> list[dict]:
    row = {"metric": "ndcg_at_10", "dataset": "nli-all.csv", "split": "held-out", "revision": "1a2b3c4d", "value": value}
    return [{**row, **changes}]


def test_a_gain_passes_and_the_decision_has_exactly_the_documented_keys():
    decision = gate.decide(record(), now=NOW)
    assert set(decision) == {"passed", "overridden", "min_gain", "max_drop", "against", "conditions", "decided"}
    assert decision["passed"] is True and decision["overridden"] is False and decision["against"] is None
    assert (decision["min_gain"], decision["max_drop"], decision["decided"]) == (0.0, 0.01, "2025-01-02T03:04:05+00:00")
    assert [c["passed"] for c in decision["conditions"]] == [True, True]
    assert all(set(c) == {"what", "passed"} for c in decision["conditions"])
    assert "in-domain held-out ndcg_at_10: 0.5000 -> 0.6000 (+0.1000)" in decision["conditions"][0]["what"]
    assert "STSB test spearman_cosine: 0.8000 -> 0.8000" in decision["conditions"][1]["what"]
    json.dumps(decision)  # goes into metrics.json as it is


def test_no_gain_and_a_too_small_gain_are_refused():
    flat = gate.decide(record(held=(0.5, 0.5)))
    assert flat["passed"] is False and gate.refusal(flat) == [flat["conditions"][0]["what"]]
    assert "needs a gain > 0" in gate.refusal(flat)[0]
    assert gate.decide(record(held=(0.5, 0.51)), min_gain=0.02)["passed"] is False
    small = gate.decide(record(held=(0.5, 0.52)), min_gain=0.02)  # at least: an equal gain passes
    assert small["passed"] is True and small["min_gain"] == 0.02 and "--min-gain" in small["conditions"][0]["what"]


def test_a_general_benchmark_that_fell_too_far_is_refused():
    fell = gate.decide(record(stsb=(0.80, 0.78)))
    assert fell["passed"] is False and len(gate.refusal(fell)) == 1
    assert gate.refusal(fell)[0].startswith("general STSB test spearman_cosine: 0.8000 -> 0.7800 (-0.0200)")
    assert gate.decide(record(stsb=(0.80, 0.78)), max_drop=0.05)["passed"] is True
    assert gate.decide(record(stsb=(0.80, 0.795)))["passed"] is True  # within the default 0.01
    both = gate.decide(record(held=(0.5, 0.4), stsb=(0.8, 0.5)))
    assert len(gate.refusal(both)) == 2  # one line per failed condition
    no_base = gate.decide(record(stsb=(None, 0.1)))  # a general score the base lacks cannot have fallen
    assert no_base["passed"] is True and len(no_base["conditions"]) == 1


def test_no_base_score_is_refused_with_how_to_score_the_base():
    decision = gate.decide(record(held=(None, 0.6)), folder="runs/mnr")
    assert decision["passed"] is False
    assert "the base model has no score" in gate.refusal(decision)[0]
    assert "`hubembed eval runs/mnr --base`" in gate.refusal(decision)[0]


def test_a_run_without_scores_is_not_checked_and_passes():
    decision = gate.decide(record(held=None, stsb=None, headline=None), against="team/x", against_scores=[])
    assert decision["passed"] is True and decision["conditions"] == [{"what": gate.NOT_CHECKED, "passed": True}]
    assert gate.NOT_CHECKED == "not checked: the run has no scores"


def test_against_a_comparable_card():
    better = gate.decide(record(held=(0.5, 0.6)), against="team/m", against_scores=theirs(0.55))
    assert better["passed"] is True and better["against"] == "team/m"
    assert "--against team/m: 0.6000 against their 0.5500" in better["conditions"][-1]["what"]
    worse = gate.decide(record(held=(0.5, 0.6)), against="team/m", against_scores=theirs(0.65))
    assert worse["passed"] is False and gate.refusal(worse)[0].startswith("--against team/m: 0.6000 against their 0.6500")
    tie = gate.decide(record(held=(0.5, 0.600004)), against="team/m", against_scores=theirs(0.6))
    assert tie["passed"] is False  # compared at the card's 4 decimals: a copy of their model does not beat it


def test_against_an_incomparable_card_names_what_is_missing():
    for card in ([], theirs(0.1, metric="mrr_at_10"), theirs(0.1, split="test"), theirs(0.1, dataset="other.csv")):
        decision = gate.decide(record(), against="team/m", against_scores=card)
        assert decision["passed"] is False
        assert gate.refusal(decision) == [
            "--against team/m: not comparable, their card has no ndcg_at_10 on held-out of nli-all.csv@1a2b3c4d"]
    other_rows = gate.decide(record(), against="team/m", against_scores=theirs(0.1, revision="99ff99ff"))
    assert gate.refusal(other_rows)[0].endswith("@1a2b3c4d (it has one on other data: revision 99ff99ff)")


def test_the_same_decision_at_another_time_is_the_same():
    first, later = gate.decide(record(), now=NOW), gate.decide(record())
    assert gate.same(first, later) and not gate.same(None, later)
    assert not gate.same(first, gate.decide(record(), max_drop=0.5))
    overridden = gate.decide(record(held=(0.5, 0.4)), ignore=True)
    assert overridden["passed"] is False and overridden["overridden"] is True
    assert gate.decide(record(), ignore=True)["overridden"] is False  # nothing to override


@pytest.mark.parametrize("flag,text,why", [("--max-drop", "-0.1", "is negative"), ("--min-gain", "abc", "is not a number"),
                                          ("--min-gain", "nan", "is not a finite number"), ("--max-drop", "inf", "is not a finite number")])
def test_thresholds_that_are_no_number_at_least_zero_are_one_line(flag, text, why):
    with pytest.raises(ConfigError, match=f"^{flag} {text} {why}: give a number >= 0"):
        gate.threshold(flag, text, 0.0)
    assert gate.threshold(flag, None, 0.25) == 0.25 and gate.threshold(flag, "0.5", 0.0) == 0.5


def test_gate_refused_error_has_its_own_exit_code():
    err = GateRefusedError(["a", "b"])
    assert err.exit_code == 3 and err.lines == ["a", "b"] and str(err) == "a; b"


# -- the commands against LocalHub -------------------------------------------------------------------------------
TRAIN = ("train", "--plugin", "mnr", "--data", str(NLI_SAMPLE.path), "--set", "data.limit=200", "--max-steps", "3",
         "--batch-size", "16")
# the run's own held-out rows lead (the same rows, so the same fingerprint, in every run here); STSB is general
HELD_OUT = ("--eval", "in-domain", "--set", "eval.in-domain.share=0.25")  # 50 rows: a score that can move
EVALS = (*HELD_OUT, "--eval", "stsb", "--set", "eval.stsb.source=bundled")
HEADLINE = "in-domain retrieval held-out ndcg_at_10"
ANYWAY = "Push it anyway with:"


def train(server, home: Path, tiny_model: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    """`hubembed train` as a user runs it, online against LocalHub, with no token saved."""
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_ENDPOINT": server.endpoint,
           "HF_TOKEN": "", "HF_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "hubembed", *TRAIN, "--model", tiny_model, "--output", str(out), *args],
                          env=env, capture_output=True, text=True, timeout=600)


def exists(server, repo_id: str) -> bool:
    try:
        HfApi(endpoint=server.endpoint, token=ALICE).model_info(repo_id)
        return True
    except RepositoryNotFoundError:
        return False


def writes(server, since: int) -> list[str]:
    """The requests after `since` that create or change a repo."""
    return [f"{m} {p}" for m, p in server.requests[since:] if m != "GET" and ("/api/repos/create" in p or "/commit/" in p
                                                                              or "/preupload/" in p or "/lfs" in p)]


def held_out_data(folder: Path) -> str:
    """How the gate names the headline's data: metric, split, the data file and the held-out rows' fingerprint."""
    held = json.loads((folder / "metrics.json").read_text())["held_out"]
    return f"ndcg_at_10 on held-out of {held['source']}@{held['fingerprint']}"


def gate_of(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())["gate"]


@pytest.fixture(scope="module")
def worse(server, tokens, tiny_model, tmp_path_factory, no_saved_token):
    """A run made worse on purpose (learning rate 1): `train --push` refused; then the printed override."""
    out = tmp_path_factory.mktemp("runs") / "worse"
    seen = len(server.requests)
    refused = train(server, tmp_path_factory.mktemp("hf-home"), tiny_model, out, "--lr", "1", *EVALS,
                    "--set", "training.keep=last",  # the best step would be one from before it got worse
                    "--push", "--repo-id", "team/worse", "--token-file", tokens.alice)
    state = SimpleNamespace(refused=refused, out=out, writes=writes(server, seen), existed=exists(server, "team/worse"),
                            gate=gate_of(out) if (out / "metrics.json").is_file() else None)
    state.line = next((ln for ln in refused.stderr.splitlines() if ANYWAY in ln), "")
    state.anyway = shlex.split(state.line.split(ANYWAY, 1)[1]) if state.line else []
    with server.client_env():
        state.pushed = invoke(*state.anyway[1:]) if state.anyway[:2] == ["hubembed", "push"] else None
    return state


@pytest.fixture(scope="module")
def better(server, tokens, tiny_model, tmp_path_factory, worse, no_saved_token):
    """A run that improves (learning rate 1e-2), pushed `--against` the worse one, which it beats."""
    out = tmp_path_factory.mktemp("runs") / "better"
    result = train(server, tmp_path_factory.mktemp("hf-home"), tiny_model, out, "--lr", "1e-2", "--max-steps", "6",
                   *HELD_OUT,  # the held-out rows alone (STSB moves either way on the tiny model)
                   "--push", "--repo-id", "team/better", "--against", "team/worse", "--token-file", tokens.alice)
    return SimpleNamespace(result=result, out=out)


def test_a_degraded_run_is_refused_and_nothing_reaches_the_hub(worse, tokens):
    refused = worse.refused
    assert refused.returncode == 3, refused.stderr[-3000:]
    assert "Done in" in refused.stdout and "Traceback" not in refused.stderr  # trained and saved, then refused
    errors = [ln for ln in refused.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 3 and all(ln.startswith("error: push refused: ") for ln in errors), refused.stderr
    assert errors[0].startswith(f"error: push refused: headline {HEADLINE}: ")
    assert errors[1].startswith("error: push refused: general STSB validation spearman_cosine: ")
    assert errors[2].startswith("error: push refused: general STSB test spearman_cosine: ")
    assert refused.stderr.strip().splitlines()[-1] == worse.line
    assert worse.anyway == ["hubembed", "push", str(worse.out), "--repo-id", "team/worse", "--ignore-gate",
                            "--token-file", tokens.alice]
    assert worse.writes == [] and worse.existed is False  # no repo created, nothing uploaded
    assert all((worse.out / n).is_file() for n in ("model.safetensors", "hubembed_run.yaml", "metrics.json", "README.md"))
    assert not list(worse.out.parent.glob(".*partial"))
    assert worse.gate["passed"] is False and worse.gate["overridden"] is False
    assert [c["passed"] for c in worse.gate["conditions"]] == [False, False, False]


def test_the_override_pushes_and_records_it(worse, client, tmp_path):
    assert worse.pushed.exit_code == 0, worse.pushed.output
    assert "Pushed" in worse.pushed.stdout and "--ignore-gate" in worse.pushed.stderr
    assert exists(client, "team/worse")
    local = gate_of(worse.out)
    assert local["passed"] is False and local["overridden"] is True
    pushed = json.loads(Path(hf_hub_download("team/worse", "metrics.json", endpoint=client.endpoint, token=ALICE,
                                             cache_dir=tmp_path / "c")).read_text())
    assert pushed["gate"] == local  # the pushed record says it was overridden


def test_the_pushed_card_records_the_override(worse, client, tmp_path):
    assert worse.pushed.exit_code == 0, worse.pushed.output
    card = Path(hf_hub_download("team/worse", "README.md", endpoint=client.endpoint, token=ALICE,
                                cache_dir=tmp_path / "c")).read_text()
    assert "### Push gate" in card and "--ignore-gate" in card and "refused" in card
    assert f"headline {HEADLINE}: " in card  # each condition is listed


def test_against_a_worse_team_model_passes_and_pushes(better, client):
    result = better.result
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Push gate passed: " in result.stderr and "Pushed" in result.stdout
    decision = gate_of(better.out)
    assert decision["passed"] is True and decision["against"] == "team/worse"
    against = decision["conditions"][-1]
    assert against["passed"] is True and against["what"].startswith("--against team/worse: ")
    assert held_out_data(better.out) in against["what"]  # the same held-out rows: comparable
    assert exists(client, "team/better")


def test_against_a_better_team_model_is_refused(worse, better, client, tokens, tmp_path):
    run = tmp_path / "worse-again"
    shutil.copytree(worse.out, run)
    seen = len(client.requests)
    result = invoke("push", str(run), "--repo-id", "team/worse-2", "--against", "team/better", "--token-file", tokens.alice)
    assert result.exit_code == 3, result.output
    refused = [ln for ln in result.stderr.splitlines() if ln.startswith("error: push refused: --against team/better: ")]
    assert len(refused) == 1 and "the gate needs a higher score" in refused[0], result.stderr
    assert writes(client, seen) == [] and not exists(client, "team/worse-2")
    assert result.stderr.strip().splitlines()[-1].endswith(
        f"hubembed push {run} --repo-id team/worse-2 --ignore-gate --token-file {tokens.alice} --against team/better")


def test_a_run_without_scores_pushes_unchecked_and_its_card_is_not_comparable(server, better, client, tokens, tiny_model,
                                                                              tmp_path):
    out = tmp_path / "unscored"
    result = train(server, tmp_path / "hf-home", tiny_model, out, "--eval", "none", "--push", "--repo-id",
                   "team/unscored", "--token-file", tokens.alice)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Push gate: not checked: the run has no scores" in result.stderr
    assert gate_of(out)["conditions"] == [{"what": "not checked: the run has no scores", "passed": True}]

    run = tmp_path / "better-again"
    shutil.copytree(better.out, run)
    refused = invoke("push", str(run), "--repo-id", "team/better-2", "--against", "team/unscored", "--token-file",
                     tokens.alice)
    assert refused.exit_code == 3, refused.output
    errors = [ln for ln in refused.stderr.splitlines() if ln.startswith("error:")]
    assert errors == ["error: push refused: --against team/unscored: not comparable, their card has no "
                      f"{held_out_data(better.out)}"]
    assert not exists(client, "team/better-2")


def test_a_repush_of_an_unchanged_run_leaves_its_record_unchanged(better, client, tokens, tmp_path):
    run = tmp_path / "same"
    shutil.copytree(better.out, run)
    before = (run / "metrics.json").read_bytes()
    again = invoke("push", str(run), "--repo-id", "team/better", "--against", "team/worse", "--token-file", tokens.alice)
    assert again.exit_code == 0 and "Nothing to push" in again.stdout, again.output
    assert (run / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("flags,message", [
    (("--max-drop", "-1"), "error: --max-drop -1 is negative: give a number >= 0 (default 0.01)"),
    (("--min-gain", "lots"), "error: --min-gain lots is not a number: give a number >= 0 (default 0)"),
    (("--against", "team/a b"), "error: 'team/a b' is not a valid repo id"),
])
def test_bad_gate_flags_fail_before_training(flags, message, tiny_model, run_cli, tmp_path):
    out = tmp_path / "never"
    result = run_cli(*TRAIN, "--model", tiny_model, "--output", str(out), "--push", *flags)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and result.stderr.startswith(message), result.stderr
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
    pushed = run_cli("push", str(tmp_path), *flags)
    assert pushed.returncode == 2 and pushed.stderr.startswith(message), pushed.stderr
    assert invoke("train", "--plugin", "mnr", "--ignore-gate").exception.args[0].startswith("--ignore-gate only mean")
