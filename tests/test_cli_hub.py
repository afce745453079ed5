"""The Hub round trip with the real huggingface_hub client against LocalHub on 127.0.0.1:
train (tiny model) -> push public / private / to an org / to a branch / as a PR -> SentenceTransformer(repo_id) loads
the same model -> compare / leaderboard read the scores from the cards; failures keep the run and say how to retry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from huggingface_hub import HfApi, ModelCard, hf_hub_download, snapshot_download
from huggingface_hub.errors import RepositoryNotFoundError

from hubembed import launch
from hubembed.bundled import NLI_SAMPLE
from hubembed.errors import ConfigError, HubAuthError, HubError, HubNotFoundError, OutputExistsError
from localhub_fixtures import ALICE, BOB, WRONG, invoke

REPO = "team/tiny-mnr"
MODEL_FILES = ("model.safetensors", "config.json", "modules.json", "hubembed_run.yaml", "metrics.json")


def digest(folder: Path, names=MODEL_FILES) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


@pytest.fixture(scope="module")
def pushed(server, tokens, tiny_model, tmp_path_factory, no_saved_token):
    """`hubembed train --push` whose upload dies with a 500, then the printed `hubembed push` retry. The tests of this
    module are about push mechanics, not quality: their pushes pass --ignore-gate (tests/test_gate.py tests the gate)."""
    out = tmp_path_factory.mktemp("runs") / "tiny-mnr"
    home = tmp_path_factory.mktemp("hf-home")
    env = {"HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_ENDPOINT": server.endpoint, "HF_TOKEN": "",
           "HF_HOME": str(home)}
    server.fail_next("POST", "/commit/", status=500)
    args = ["train", "--plugin", "mnr", "--model", tiny_model, "--data", str(NLI_SAMPLE.path), "--set", "data.limit=48",
            "--eval", "stsb", "--eval", "mteb:STSBenchmark", "--set", "eval.stsb.source=bundled", "--max-steps", "3",
            "--batch-size", "16", "--output", str(out), "--push", "--repo-id", REPO, "--ignore-gate", "--token-file", tokens.alice]
    failed = subprocess.run([sys.executable, "-m", "hubembed", *args], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=600)
    local = digest(out) if out.is_dir() else {}
    retry_line = next((line for line in failed.stderr.splitlines() if "Retry the push with:" in line), "")
    retry = shlex.split(retry_line.split("Retry the push with:", 1)[1]) if retry_line else []
    with server.client_env():
        retried = invoke(*retry[1:]) if retry[:2] == ["hubembed", "push"] else None
    return SimpleNamespace(out=out, failed=failed, local=local, retry=retry, retried=retried, env=env)


def test_failed_push_keeps_the_run_and_the_printed_retry_succeeds(pushed, tokens):
    failed = pushed.failed
    assert failed.returncode == 2, failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "network or server error: HTTP 500" in errors[0], failed.stderr
    assert "Traceback" not in failed.stderr
    assert "Done in" in failed.stdout  # trained, evaluated and saved before the push was tried
    assert pushed.retry == ["hubembed", "push", str(pushed.out), "--repo-id", REPO, "--ignore-gate", "--token-file",
                            tokens.alice]
    assert all((pushed.out / name).is_file() for name in MODEL_FILES)
    assert not list(pushed.out.parent.glob(".*partial"))
    assert pushed.retried.exit_code == 0, pushed.retried.output
    assert f"Pushed {pushed.out}/ to {REPO}" in pushed.retried.stdout
    assert digest(pushed.out) == pushed.local  # the retry pushed the run as trained


def test_the_pushed_repo_holds_the_model_its_card_and_plots(pushed, client, tmp_path):
    api = HfApi(endpoint=client.endpoint, token=ALICE)
    files = set(api.list_repo_files(REPO))
    assert {"README.md", *MODEL_FILES, "assets/train_loss.png", "assets/stsb_validation_scatter.png"} <= files
    assert not any(f.startswith((".hubembed", "checkpoints")) for f in files)

    card = ModelCard.load(hf_hub_download(REPO, "README.md", cache_dir=tmp_path / "c"))
    results = {(r.dataset_name, r.dataset_split, r.metric_type): r for r in card.data.eval_results}
    for split in ("validation", "test"):
        for metric in ("pearson_cosine", "spearman_cosine"):
            assert (f"STS Benchmark ({split})", split, metric) in results
    mteb = results[("MTEB STSBenchmark", "test", "cosine_spearman")]
    assert mteb.dataset_type == "mteb/stsbenchmark-sts" and len(mteb.dataset_revision) == 40
    metrics = json.loads((pushed.out / "metrics.json").read_text())
    trained = {(s["dataset_name"], s["split"], s["metric"]): round(s["value"], 4) for s in metrics["scores"]["trained"]}
    assert {k: r.metric_value for k, r in results.items()} == trained
    assert card.data.pipeline_tag == "sentence-similarity" and card.data.license and card.data.language
    assert f'SentenceTransformer("{REPO}")' in card.text and "assets/stsb_validation_scatter.png" in card.text
    info = api.model_info(REPO)
    assert "hubembed" in info.tags and "hubembed.mnr.v1" in info.tags


def test_tokens_are_never_written_or_printed(pushed, client, tmp_path):
    snapshot = Path(snapshot_download(REPO, cache_dir=tmp_path / "snap", token=ALICE))
    texts = [pushed.failed.stdout, pushed.failed.stderr, pushed.retried.output]
    for folder in (pushed.out, snapshot):
        texts += [p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file()]
    assert not any(ALICE in text for text in texts)


def test_sentence_transformer_loads_the_pushed_model_with_identical_embeddings(pushed, client, tmp_path):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    sentences = ["A man is playing a guitar.", "Someone plays an instrument."]
    local = SentenceTransformer(str(pushed.out)).encode(sentences)
    remote = SentenceTransformer(REPO, cache_folder=str(tmp_path / "st"))  # public: no token needed
    np.testing.assert_allclose(remote.encode(sentences), local, atol=1e-6)


def test_push_private_to_org_to_user_to_branch_and_as_pr(pushed, client, tokens, tmp_path):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    run = tmp_path / "run-copy"
    shutil.copytree(pushed.out, run)
    api = HfApi(endpoint=client.endpoint, token=ALICE)

    private = invoke("push", str(run), "--ignore-gate", "--repo-id", "team/private-run", "--private", "--token-file", tokens.alice)
    assert private.exit_code == 0, private.output
    assert api.model_info("team/private-run").private is True
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=client.endpoint, token=BOB).model_info("team/private-run")

    mine = invoke("push", str(run), "--ignore-gate", "--endpoint", client.endpoint, "--token-file", tokens.alice)  # <user>/<folder>
    assert mine.exit_code == 0 and "to alice/run-copy" in mine.stdout, mine.output

    branch = invoke("push", str(run), "--ignore-gate", "--repo-id", REPO, "--revision", "dev", "--commit-message", "On dev",
                    "--token-file", tokens.alice)
    assert branch.exit_code == 0 and f"{REPO} (dev)" in branch.stdout, branch.output
    assert "dev" in [b.name for b in api.list_repo_refs(REPO).branches]
    loaded = SentenceTransformer(REPO, revision="dev", cache_folder=str(tmp_path / "st"))
    np.testing.assert_allclose(loaded.encode(["hello"]), SentenceTransformer(str(run)).encode(["hello"]), atol=1e-6)

    (run / "notes.txt").write_text("a change worth reviewing\n")
    pr = invoke("push", str(run), "--ignore-gate", "--repo-id", REPO, "--create-pr", "--token-file", tokens.alice)
    assert pr.exit_code == 0 and f"{client.endpoint}/{REPO}/discussions/" in pr.stdout, pr.output
    assert "notes.txt" not in api.list_repo_files(REPO)  # main is untouched until the PR is merged
    (run / "notes.txt").unlink()

    again = invoke("push", str(run), "--ignore-gate", "--repo-id", REPO, "--token-file", tokens.alice)
    assert again.exit_code == 0 and "Nothing to push" in again.stdout, again.output  # idempotent

    refused = invoke("push", str(run), "--ignore-gate", "--repo-id", "team/not-bobs", "--token-file", tokens.bob)
    assert refused.exit_code == 2 and "refused" in refused.stderr and "HTTP 403" in refused.stderr


def test_wrong_and_missing_token_say_why_and_how_to_retry(pushed, client, tokens):
    before = digest(pushed.out)
    wrong = invoke("push", str(pushed.out), "--ignore-gate", "--repo-id", REPO, "--token-file", tokens.wrong)
    assert wrong.exit_code == 2
    lines = wrong.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]  # after the push gate's line
    assert len(errors) == 1 and errors[0].startswith("error: push failed: the Hub rejected the token (HTTP 401")
    assert lines[-1].endswith(f"hubembed push {pushed.out} --repo-id {REPO} --ignore-gate --token-file {tokens.wrong}")
    assert WRONG not in wrong.output
    missing = invoke("push", str(pushed.out), "--ignore-gate", "--repo-id", REPO)
    assert missing.exit_code == 2 and "no Hugging Face token found" in missing.stderr
    assert f"hubembed push {pushed.out} --repo-id {REPO} --ignore-gate" in missing.stderr
    assert digest(pushed.out) == before


def test_invalid_card_yaml_is_refused_before_upload(pushed, client, tokens, tmp_path):
    run = tmp_path / "bad-card"
    shutil.copytree(pushed.out, run)
    (run / "README.md").write_text("---\nlicense: [apache-2.0\n---\n# broken\n")
    seen = len(client.requests)
    result = invoke("push", str(run), "--ignore-gate", "--repo-id", "team/bad-card", "--keep-card", "--token-file", tokens.alice)
    assert result.exit_code == 2 and "README.md has invalid metadata (not valid YAML at line" in result.stderr
    assert [p for _, p in client.requests[seen:] if "bad-card" in p or "/api/repos/create" in p] == []

    (run / "metrics.json").write_text("{")  # without --keep-card the card is re-rendered from the run, which is broken
    result = invoke("push", str(run), "--ignore-gate", "--repo-id", "team/bad-card", "--token-file", tokens.alice)
    assert result.exit_code == 2 and "has no readable hubembed_run.yaml and metrics.json" in result.stderr
    assert [p for _, p in client.requests[seen:] if "bad-card" in p or "/api/repos/create" in p] == []


def _tiny_beir(folder: Path) -> Path:
    docs = [("d1", "Cats purr when they are content."), ("d2", "The stock market fell sharply today."),
            ("d3", "A guitar has six strings."), ("d4", "Vaccines train the immune system."),
            ("d5", "Rain is water falling from clouds.")]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs))
    queries = [("q1", "Why do cats purr?"), ("q2", "How many strings does a guitar have?"), ("q3", "What is rain?")]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\nq3\td5\t1\n")
    return folder


def test_eval_updates_the_run_then_push_and_leaderboard_show_it(pushed, client, tokens, tmp_path):
    run = tmp_path / "tiny-mnr"
    shutil.copytree(pushed.out, run)
    (run / ".hubembed" / "push.json").unlink()  # as if never pushed: the card names the folder until pushed again
    result = invoke("eval", str(run), "--mteb", "SciFact", "--mteb-data", str(_tiny_beir(tmp_path / "scifact")))
    assert result.exit_code == 0, result.output
    assert "MTEB SciFact" in result.stdout and "ndcg_at_10" in result.stdout and "->" in result.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    for label in ("base", "trained"):
        assert any(s["task"] == "SciFact" and s["metric"] == "ndcg_at_10" for s in metrics["scores"][label])
    assert [e["params"]["tasks"] for e in metrics["extra_evals"]] == ["SciFact"]
    card = ModelCard.load(run / "README.md")
    assert ("MTEB SciFact", "ndcg_at_10") in {(r.dataset_name, r.metric_type) for r in card.data.eval_results}

    pushed_again = invoke("push", str(run), "--ignore-gate", "--repo-id", REPO, "--token-file", tokens.alice)
    assert pushed_again.exit_code == 0 and "Pushed" in pushed_again.stdout, pushed_again.output
    board = invoke("leaderboard", "--author", "team", "--json", "--token-file", tokens.alice)
    assert board.exit_code == 0, board.output
    rows = {m["id"]: m for m in json.loads(board.stdout)["models"]}
    trained = {(s["task"], s["split"], s["metric"]): round(s["value"], 4) for s in metrics["scores"]["trained"]}
    assert rows[REPO]["scores"]["MTEB SciFact test ndcg_at_10"] == trained[("SciFact", "test", "ndcg_at_10")]
    assert rows[REPO]["scores"]["STS Benchmark test spearman_cosine"] == trained[("STSB", "test", "spearman_cosine")]
    assert rows[REPO]["plugins"][:3] == ["hubembed.nli.v1", "hubembed.mnr.v1", "hubembed.full.v1"]


def test_compare_and_leaderboard_read_the_cards(pushed, client, tokens):
    for extra in (["--revision", "dev"], ["--repo-id", "team/private-run", "--private"]):
        args = ["--repo-id", REPO, *extra] if extra[0] == "--revision" else extra
        assert invoke("push", str(pushed.out), "--ignore-gate", *args, "--token-file", tokens.alice).exit_code == 0
    metrics = json.loads((pushed.out / "metrics.json").read_text())
    spearman = next(s["value"] for s in metrics["scores"]["trained"] if s["task"] == "STSB" and s["split"] == "test"
                    and s["metric"] == "spearman_cosine")
    seen = len(client.requests)
    shown = invoke("compare", REPO, f"{REPO}@dev", "--endpoint", client.endpoint)
    assert shown.exit_code == 0, shown.output
    assert f"{REPO}@dev" in shown.stdout and f"{spearman:.4f}" in shown.stdout and "hubembed.mnr.v1" in shown.stdout
    assert "sorted by STS Benchmark test spearman_cosine" in shown.stdout
    board = invoke("leaderboard", "--author", "team", "--json", "--token-file", tokens.alice)
    ids = [m["id"] for m in json.loads(board.stdout)["models"]]
    assert REPO in ids and "team/private-run" in ids  # alice sees the org's private model
    as_bob = json.loads(invoke("leaderboard", "--author", "team", "--json", "--token-file", tokens.bob).stdout)
    assert REPO in [m["id"] for m in as_bob["models"]] and "team/private-run" not in [m["id"] for m in as_bob["models"]]
    assert not any("/resolve/" in p for _, p in client.requests[seen:])  # cards through the API: no file downloads
    missing = invoke("compare", "team/nope", "--endpoint", client.endpoint)
    assert isinstance(missing.exception, HubError)  # anonymous: the Hub cannot say missing from private
    assert "not found, or private and you are not logged in, while reading the card of team/nope" in str(missing.exception)


def test_sorting_and_columns():
    from hubembed.cli.hub import _model_row, _show

    def card(spearman, ndcg=None):
        results = [{"task": {"type": "semantic-similarity"}, "dataset": {"name": "STS Benchmark (test)", "type": "s",
                    "split": "test"}, "metrics": [{"type": "pearson_cosine", "value": 0.1},
                                                  {"type": "spearman_cosine", "value": spearman}]}]
        if ndcg is not None:
            results.append({"task": {"type": "Retrieval"}, "dataset": {"name": "MTEB SciFact", "type": "mteb/scifact",
                            "split": "test"}, "metrics": [{"type": "ndcg_at_10", "value": ndcg}]})
        return {"tags": ["hubembed", "hubembed.mnr.v1"], "model-index": [{"name": "m", "results": results}]}

    rows = [_model_row({"id": f"t/{n}", "cardData": card(*v)}) for n, v in
            {"a": (0.80, 0.60), "b": (0.85,), "c": (0.82, 0.65)}.items()]
    runner = CliRunner()
    from click import command

    @command()
    def show() -> None:
        _show(rows, None, True, "x")

    @command()
    def show_scifact() -> None:
        _show(rows, "scifact", True, "x")

    by_sts = json.loads(runner.invoke(show).stdout)
    assert [m["id"] for m in by_sts["models"]] == ["t/b", "t/c", "t/a"]
    assert by_sts["columns"] == ["STS Benchmark test spearman_cosine", "MTEB SciFact test ndcg_at_10"]
    by_scifact = json.loads(runner.invoke(show_scifact).stdout)
    assert by_scifact["sorted_by"] == "MTEB SciFact test ndcg_at_10"
    assert [m["id"] for m in by_scifact["models"]] == ["t/c", "t/a", "t/b"]  # no SciFact score: last


def test_pull_downloads_and_checks_it_loads(pushed, client, tokens, tmp_path):
    assert invoke("push", str(pushed.out), "--ignore-gate", "--repo-id", REPO, "--revision", "dev", "--token-file", tokens.alice).exit_code == 0
    out = tmp_path / "pulled"
    result = invoke("pull", f"{REPO}@dev", "--output", str(out), "--endpoint", client.endpoint)
    assert result.exit_code == 0, result.output
    assert "it loads with sentence-transformers (32-dimensional embeddings)" in result.stdout
    assert "STS Benchmark test spearman_cosine" in result.stdout
    assert digest(out) == digest(pushed.out) and not (out / ".cache").exists()
    again = invoke("pull", REPO, "--output", str(out))
    assert isinstance(again.exception, OutputExistsError)
    hidden = invoke("pull", "team/private-run", "--output", str(tmp_path / "p"), "--token-file", tokens.bob)
    assert isinstance(hidden.exception, HubNotFoundError) and "not found" in str(hidden.exception)
    assert not (tmp_path / "p").exists() and not (tmp_path / ".p.partial").exists()


def test_the_commands_raise_typed_hub_errors(client, tokens, tmp_path):
    """What a caller of the commands (or of hubembed.hub) can branch on: the class and the HTTP status."""
    missing = invoke("compare", "team/nope")
    assert type(missing.exception) is HubNotFoundError and missing.exception.status == 401  # anonymous
    hidden = invoke("pull", "team/nope", "--output", str(tmp_path / "p"), "--token-file", tokens.bob)
    assert type(hidden.exception) is HubNotFoundError and hidden.exception.status == 404
    wrong = invoke("leaderboard", "--author", "team", "--token-file", tokens.wrong)
    assert type(wrong.exception) is HubAuthError and wrong.exception.status == 401
    assert "the Hub rejected the token (HTTP 401" in str(wrong.exception) and WRONG not in str(wrong.exception)
    assert wrong.exception.__cause__ is not None


def test_local_hub_when_no_token_is_configured(pushed, client, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_ENDPOINT")
    run = tmp_path / "quick"
    shutil.copytree(pushed.out, run)
    result = invoke("push", str(run), "--ignore-gate", "--repo-id", "team/quick", "--local-hub")
    assert result.exit_code == 0, result.output
    assert "on LocalHub" in result.stdout and "NOT huggingface.co" in result.stderr
    board = invoke("leaderboard", "--author", "team", "--local-hub", "--json")
    assert [m["id"] for m in json.loads(board.stdout)["models"]] == ["team/quick"]
    assert (tmp_path / "localhub" / "local-token").stat().st_mode & 0o077 == 0


def test_push_flags_need_push_and_only_rank_zero_pushes(monkeypatch):
    result = invoke("train", "--plugin", "mnr", "--repo-id", "team/x")
    assert isinstance(result.exception, ConfigError) and "--repo-id only mean something with --push" in str(result.exception)
    result = invoke("train", "--plugin", "mnr", "--push", "--create-pr", "--revision", "dev")
    assert isinstance(result.exception, ConfigError) and "pull request is always opened against main" in str(result.exception)
    monkeypatch.setenv("RANK", "1")
    assert launch.is_main_process() is False
    monkeypatch.setenv("RANK", "0")
    assert launch.is_main_process() is True


def test_hub_serve(tmp_path, no_saved_token):
    proc = subprocess.Popen([sys.executable, "-m", "hubembed", "hub", "serve", "--root", str(tmp_path), "--org", "team"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        endpoint = text.split(" on ", 1)[1].split(",", 1)[0]
        assert endpoint.startswith("http://127.0.0.1:") and "test double" in text
        token = (tmp_path / "local-token").read_text().strip()
        assert token not in text
        me = HfApi(endpoint=endpoint, token=token).whoami()
        assert me["name"] == "local" and [o["name"] for o in me["orgs"]] == ["team"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
