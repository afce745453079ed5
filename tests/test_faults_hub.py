"""Hub faults (issue #11: no bad input or fault loses a run), through the real `hubembed` command and the
unmodified huggingface_hub client against LocalHub on 127.0.0.1.

Every row gets a fresh copy of one tiny run (trained and pushed once per module); a row that fails must leave that
copy byte-identical. Placeholders besides faults.py's {tmp} {tiny} {data}: {hub} (LocalHub's endpoint), {gone} (a
LocalHub that goes away in the middle of an LFS upload) and {run} (the copy of the run). A row's `setup` here takes
the module's `Hubs` (bind() turns it into the tmp-taking form run_case calls).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from faults import Case, run_case
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError

from hubembed.bundled import NLI_SAMPLE
from hubembed.testing import LocalHub

ALICE, BOB, WRONG = "hf_alice_faults_0123456789", "hf_bob_faults_0123456789", "hf_wrong_faults_0123456789"
RUN_REPO = "team/tiny-faults"
TOKENS = {"alice": ALICE + "\n", "bob": BOB + "\n", "wrong": WRONG + "\n"}
# The client as a user would run it: online, LocalHub as the Hub, no saved token (HF_HOME is empty).
HUB_ENV = {"HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_ENDPOINT": "{hub}", "HF_TOKEN": "",
           "HF_HOME": "{tmp}/hf-home"}
# huggingface_hub 2.4 retries a failed request 5 times, waiting 1, 2, 4, 8, 8 s (utils/_http.py http_backoff) and
# reads no setting for it: the row whose server goes away lowers the waits (not the retries) in its subprocess,
# through a sitecustomize.py on its PYTHONPATH.
FAST_RETRY = """import huggingface_hub.utils._http as _http
_http.http_backoff.__kwdefaults__.update(base_wait_time=0.02, max_wait_time=0.05)
"""
TRAIN = ("train", "--plugin", "mnr", "--model", "{tiny}", "--data", str(NLI_SAMPLE.path), "--set", "data.limit=32",
         "--eval", "none", "--max-steps", "2", "--batch-size", "16")
NOT_A_REPO_ID = r"is not a valid repo id \(.+\): write it as org/name"
UNREACHABLE = r"could not reach http://127\.0\.0\.1:\d+ \(network or server error"
ANONYMOUS = r"not found, or private and you are not logged in, while"
WITH_FAST_RETRY = {"PYTHONPATH": os.pathsep.join(["{data}", *filter(None, [os.environ.get("PYTHONPATH")])])}


@dataclass
class Hubs:
    main: LocalHub
    gone: LocalHub


def fail_commit(hubs: Hubs) -> None:
    hubs.main.fail_next("POST", "/commit/", status=500)


def vanish_during_lfs_upload(hubs: Hubs) -> None:
    hubs.gone.vanish_on("PUT", "/lfs/objects/")


CASES = [
    # repo ids are checked with huggingface_hub's validator before any request, and before training
    Case("push-repo-id-with-space", ("push", "{run}", "--repo-id", "team/bad name!", "--token-file", "{data}/alice"),
         line=rf"^error: 'team/bad name!' {NOT_A_REPO_ID}", files=TOKENS),
    Case("push-repo-id-nested", ("push", "{run}", "--repo-id", "team/a/b", "--token-file", "{data}/alice"),
         line=rf"^error: 'team/a/b' {NOT_A_REPO_ID}", files=TOKENS),
    Case("push-repo-id-dotdot", ("push", "{run}", "--repo-id", "team/..", "--token-file", "{data}/alice"),
         line=rf"^error: 'team/\.\.' {NOT_A_REPO_ID}", files=TOKENS),
    Case("train-push-repo-id-checked-before-training",
         (*TRAIN, "--output", "{tmp}/out", "--push", "--repo-id", "team/bad name!", "--token-file", "{data}/alice"),
         line=rf"^error: 'team/bad name!' {NOT_A_REPO_ID}", files=TOKENS, absent=("{tmp}/out",)),
    Case("train-push-default-repo-id-checked-before-training",  # the repo is named after the output folder
         (*TRAIN, "--output", "{tmp}/my run", "--push", "--token-file", "{data}/alice"),
         line=r"^error: 'my run' is not a valid repo id \(.+\): pass --repo-id org/name$", files=TOKENS,
         absent=("{tmp}/my run",)),
    Case("pull-repo-id-nested", ("pull", "team/a/b", "--output", "{tmp}/pulled"),
         line=rf"^error: 'team/a/b' {NOT_A_REPO_ID}", absent=("{tmp}/pulled",)),
    Case("pull-repo-id-dotdot-with-revision", ("pull", "team/..@main", "--output", "{tmp}/pulled"),
         line=rf"^error: 'team/\.\.' {NOT_A_REPO_ID}", absent=("{tmp}/pulled",)),
    Case("compare-repo-id-with-space", ("compare", RUN_REPO, "team/bad name!"),
         line=rf"^error: 'team/bad name!' {NOT_A_REPO_ID}"),
    # a failed push changes nothing in the run folder (the card is rendered for the repo in memory)
    Case("push-500-then-retry", ("push", "{run}", "--repo-id", "team/flaky", "--token-file", "{data}/alice"),
         line=rf"^error: push failed: {UNREACHABLE}: HTTP 500: .+\) while pushing .+ to team/flaky: retry later",
         files=TOKENS, setup=fail_commit),
    Case("push-server-goes-away-mid-upload",
         ("push", "{run}", "--repo-id", "team/gone", "--endpoint", "{gone}", "--token-file", "{data}/alice"),
         line=rf"^error: push failed: {UNREACHABLE}: .+\) while pushing .+ to team/gone: check your connection",
         files={**TOKENS, "sitecustomize.py": FAST_RETRY}, env=WITH_FAST_RETRY, setup=vanish_during_lfs_upload,
         timeout=120),
    Case("push-bad-token", ("push", "{run}", "--repo-id", "team/other", "--token-file", "{data}/wrong"),
         line=r"^error: push failed: the Hub rejected the token \(HTTP 401.*\) while pushing .+: set HF_TOKEN",
         files=TOKENS),
    Case("push-no-token", ("push", "{run}", "--repo-id", "team/other"),
         line=r"^error: push failed: no Hugging Face token found: pass --token-file, set HF_TOKEN"),
    # anonymous reads of missing or private repos (the Hub answers 401), and hints that name only real flags
    Case("pull-anonymous-missing-repo", ("pull", "team/missing", "--output", "{tmp}/pulled"),
         line=rf"^error: {ANONYMOUS} downloading team/missing .*: check the repo id, or log in",
         absent=("{tmp}/pulled",)),
    Case("compare-anonymous-private-repo", ("compare", "team/secret"),
         line=rf"^error: {ANONYMOUS} reading the card of team/secret .*: check the repo id, or log in"),
    Case("pull-private-repo-with-a-token-that-cannot-see-it",
         ("pull", "team/secret", "--output", "{tmp}/pulled", "--token-file", "{data}/bob"),
         line=r"^(?!.*--repo-type)error: not found while downloading team/secret \(HTTP 404.*\): check the repo id",
         files=TOKENS, absent=("{tmp}/pulled",)),
]
BEFORE_ANY_REQUEST = {c.id for c in CASES if "repo-id" in c.id}
RETRY_SUCCEEDS = {"push-500-then-retry"}


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def bind(case: Case, values: dict[str, str], hubs: Hubs) -> Case:
    """The row with {hub}, {gone} and {run} filled in (faults.expand fills the rest) and HUB_ENV under its env."""
    return replace(
        case,
        args=tuple(fill(a, values) for a in case.args),
        env={k: fill(v, values) for k, v in {**HUB_ENV, **case.env}.items()},
        setup=(lambda _tmp: case.setup(hubs)) if case.setup else None,
    )


def retry_args(stderr: str) -> list[str]:
    line = next(ln for ln in stderr.splitlines() if "Retry the push with:" in ln)
    command = shlex.split(line.split("Retry the push with:", 1)[1])
    assert command[:2] == ["hubembed", "push"], line
    return command[1:]


def piped_token(*args: str, token: str = ALICE) -> tuple[list[str], dict[str, str]]:
    """`hubembed ARGS --token-file <(printf TOKEN)` as bash runs it: the token file is a pipe, readable once."""
    script = 'exec "$@" --token-file <(printf "%s\\n" "$FAULTS_TOKEN")'
    return ["bash", "-c", script, "bash", sys.executable, "-m", "hubembed", *args], {"FAULTS_TOKEN": token}


def hub_env(values: dict[str, str], tmp: Path) -> dict[str, str]:
    return {k: fill(v, values).format(tmp=tmp) for k, v in HUB_ENV.items()}


def run_command(command: list[str], secret: dict[str, str], values: dict[str, str], tmp: Path, timeout: int = 120):
    env = {**os.environ, **hub_env(values, tmp), **secret}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def hubs(tmp_path_factory):
    with LocalHub(tmp_path_factory.mktemp("hub")) as main, LocalHub(tmp_path_factory.mktemp("gone")) as gone:
        for server in (main, gone):
            server.add_user("alice", ALICE, orgs=["team"])
            server.add_user("bob", BOB)
        HfApi(endpoint=main.endpoint, token=ALICE).create_repo("team/secret", private=True)
        yield Hubs(main, gone)


@pytest.fixture(scope="module")
def trained(hubs, tiny_model, tmp_path_factory):
    """The module's one run: `hubembed train --push --token-file <(...)`, as a user would pass a token from a
    secret store; the run is saved whether or not the push works."""
    tmp = tmp_path_factory.mktemp("trained")
    out = tmp / "tiny-faults"
    train = [a.format(tiny=tiny_model) for a in TRAIN] + ["--output", str(out)]
    values = {"hub": hubs.main.endpoint}
    result = run_command(*piped_token(*train, "--push", "--repo-id", RUN_REPO), values, tmp, timeout=600)
    if not out.is_dir():  # failed before training (test_train_push_reads_a_piped_token_once says why): the rows
        run_command([sys.executable, "-m", "hubembed", *train], {}, values, tmp, timeout=600)  # still get their run
    assert (out / "model.safetensors").is_file(), result.stderr
    return SimpleNamespace(out=out, result=result)


@pytest.fixture(autouse=True)
def no_faults_left(hubs):
    """A failure a test armed but its command never met (it failed earlier) must not hit the next test."""
    yield
    hubs.main.clear_faults()


@pytest.fixture
def values(hubs, trained, tmp_path) -> dict[str, str]:
    run = tmp_path / "tiny-faults"
    shutil.copytree(trained.out, run)
    return {"hub": hubs.main.endpoint, "gone": hubs.gone.endpoint, "run": str(run)}


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_hub_fault(case, hubs, values, run_cli, tmp_path, tiny_model):
    run = Path(values["run"])
    before, seen = digest(run), (len(hubs.main.requests), len(hubs.gone.requests))
    result = run_case(bind(case, values, hubs), run_cli, tmp_path, tiny_model)
    assert ALICE not in result.stderr + result.stdout and WRONG not in result.stderr + result.stdout
    assert digest(run) == before, "a failed command changed the run folder"
    if case.id in BEFORE_ANY_REQUEST:
        assert (len(hubs.main.requests), len(hubs.gone.requests)) == seen, "a bad repo id reached the Hub"
    if case.id in RETRY_SUCCEEDS:
        retried = run_cli(*retry_args(result.stderr), env=hub_env(values, tmp_path))
        assert retried.returncode == 0, retried.stderr
        assert f"Pushed {run}/ to team/flaky" in retried.stdout


def test_train_push_reads_a_piped_token_once(trained):
    assert trained.result.returncode == 0, trained.result.stderr
    assert f"to {RUN_REPO}" in trained.result.stdout and "Pushed" in trained.result.stdout
    assert not any(ALICE.encode() in p.read_bytes() for p in trained.out.rglob("*") if p.is_file())


def test_push_reads_a_piped_token_once(hubs, values, tmp_path):
    result = run_command(*piped_token("push", values["run"], "--repo-id", "team/piped"), values, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Pushed" in result.stdout and "team/piped" in result.stdout


def test_retry_of_a_push_with_a_piped_token_names_no_used_up_pipe(hubs, values, tmp_path):
    hubs.main.fail_next("POST", "/commit/", status=500)
    result = run_command(*piped_token("push", values["run"], "--repo-id", "team/piped-flaky"), values, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "/dev/fd/" not in result.stderr and ALICE not in result.stderr
    retry = next(ln for ln in result.stderr.splitlines() if "Retry the push with:" in ln)
    assert re.search(r"give the token again", retry), retry
    assert retry_args(result.stderr) == ["push", values["run"], "--repo-id", "team/piped-flaky"]


def test_a_successful_push_leaves_the_local_card_as_pushed(hubs, values, run_cli, tmp_path):
    run = Path(values["run"])
    (tmp_path / "alice").write_text(ALICE + "\n")
    result = run_cli("push", str(run), "--repo-id", "team/renamed", "--token-file", str(tmp_path / "alice"),
                     env=hub_env(values, tmp_path))
    assert result.returncode == 0, result.stderr
    pushed = hf_hub_download("team/renamed", "README.md", endpoint=hubs.main.endpoint, cache_dir=tmp_path / "c")
    assert (run / "README.md").read_bytes() == Path(pushed).read_bytes()
    assert 'SentenceTransformer("team/renamed")' in (run / "README.md").read_text()


def test_local_hub_answers_a_missing_or_hidden_repo_like_the_hub(hubs):
    """401 to an anonymous request (the Hub cannot tell it missing from private), 404 to a logged-in user; both
    are RepositoryNotFoundError to huggingface_hub."""
    for token, status in ((False, 401), (BOB, 404)):
        for repo in ("team/secret", "team/missing"):
            with pytest.raises(RepositoryNotFoundError) as err:
                HfApi(endpoint=hubs.main.endpoint, token=token).model_info(repo)
            assert err.value.response.status_code == status


def test_a_local_hub_that_went_away_refuses_connections(tmp_path):
    with LocalHub(tmp_path / "hub") as server:
        server.add_user("alice", ALICE)
        server.vanish_on("GET", "/api/whoami-v2")
        with pytest.raises(OSError):  # the connection is dropped unanswered ...
            urllib.request.urlopen(f"{server.endpoint}/api/whoami-v2", timeout=5)
        assert server.gone.wait(5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # ... and the port closes (shutdown runs on its own thread)
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            except ConnectionResetError:  # queued while the listener was closing
                continue
            time.sleep(0.05)
        else:
            pytest.fail("the port still accepts connections")
