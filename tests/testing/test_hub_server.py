"""LocalHub driven by the unmodified huggingface_hub client over 127.0.0.1."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, constants, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from hubembed.testing.hub_server import LocalHub

CARD = """---
license: apache-2.0
library_name: sentence-transformers
tags:
- sentence-similarity
model-index:
- name: tiny
  results:
  - task: {type: STS}
    dataset: {name: STSB, type: sentence-transformers/stsb}
    metrics:
    - {type: spearman_cosine, value: 0.81}
---
# tiny
"""


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-token"))
    with LocalHub(tmp_path / "hub") as server:
        server.add_user("alice", "hf_alice", orgs=["acme"])
        server.add_user("bob", "hf_bob")
        with server.client_env():
            yield server


def api(hub: LocalHub, token: str | bool | None = "hf_alice") -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=token)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "README.md").write_text(CARD)
    (root / "weights.bin").write_bytes(bytes(range(256)) * 8)  # binary => LFS
    (root / "sub" / "notes.txt").write_text("hello\n")
    return root


def test_whoami_and_tokens(hub):
    me = api(hub).whoami()
    assert me["name"] == "alice" and me["type"] == "user"
    assert [o["name"] for o in me["orgs"]] == ["acme"]
    with pytest.raises(HfHubHTTPError) as err:
        api(hub, "hf_wrong").whoami()
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        api(hub, False).create_repo("alice/x")
    assert err.value.response.status_code == 401
    assert "error" in err.value.response.json()


def test_create_exist_ok_delete_and_dataset(hub, tmp_path):
    url = api(hub).create_repo("acme/m")
    assert url.repo_id == "acme/m" and url.startswith(hub.endpoint)
    with pytest.raises(HfHubHTTPError) as err:
        api(hub).create_repo("acme/m")
    assert err.value.response.status_code == 409
    api(hub).create_repo("acme/m", exist_ok=True)
    api(hub).create_repo("acme/data", repo_type="dataset")
    api(hub).upload_file(path_or_fileobj=b"\x00\x01rows", path_in_repo="data/train.bin", repo_id="acme/data",
                         repo_type="dataset")
    info = api(hub).dataset_info("acme/data", files_metadata=True)
    assert info.id == "acme/data" and [s.lfs is not None for s in info.siblings] == [False, True]
    path = hf_hub_download("acme/data", "data/train.bin", repo_type="dataset", cache_dir=tmp_path / "c")
    assert Path(path).read_bytes() == b"\x00\x01rows"
    api(hub).delete_repo("acme/m")
    with pytest.raises(RepositoryNotFoundError):
        api(hub).model_info("acme/m")


def test_private_repos_are_invisible_to_others(hub):
    api(hub).create_repo("acme/secret", private=True)
    assert api(hub).model_info("acme/secret").private is True
    for other in (api(hub, "hf_bob"), api(hub, False)):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info("acme/secret")
        assert [m.id for m in other.list_models(author="acme")] == []
    assert [m.id for m in api(hub).list_models(author="acme")] == ["acme/secret"]


def test_only_members_push_to_a_namespace(hub):
    with pytest.raises(HfHubHTTPError) as err:
        api(hub, "hf_bob").create_repo("acme/theirs")
    assert err.value.response.status_code == 403
    api(hub).create_repo("alice/public")
    with pytest.raises(HfHubHTTPError) as err:
        api(hub, "hf_bob").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/public")
    assert err.value.response.status_code == 403


def test_upload_folder_lfs_card_and_downloads(hub, folder, tmp_path):
    client = api(hub)
    client.create_repo("acme/tiny")
    commit = client.upload_folder(repo_id="acme/tiny", folder_path=folder)
    assert len(commit.oid) == 40 and commit.commit_url == f"{hub.endpoint}/acme/tiny/commit/{commit.oid}"
    assert any(m == "PUT" and p.startswith("/lfs/objects/") for m, p in hub.requests)  # classic LFS path

    info = client.model_info("acme/tiny", files_metadata=True)
    assert info.sha == commit.oid and info.author == "acme" and info.last_modified is not None
    lfs = {s.rfilename: s.lfs for s in info.siblings}
    assert lfs["weights.bin"] is not None and lfs["weights.bin"].size == 2048
    assert lfs["README.md"] is None and lfs["sub/notes.txt"] is None
    assert info.card_data.license == "apache-2.0"
    assert info.card_data.eval_results[0].metric_value == 0.81
    assert {"sentence-similarity", "sentence-transformers", "license:apache-2.0"} <= set(info.tags)

    listed = list(client.list_models(author="acme", cardData=True))
    assert [m.id for m in listed] == ["acme/tiny"] and listed[0].card_data.library_name == "sentence-transformers"
    expanded = list(client.list_models(author="acme", expand=["cardData", "sha"]))
    assert expanded[0].sha == commit.oid and expanded[0].card_data.license == "apache-2.0"

    assert client.list_repo_files("acme/tiny") == [".gitattributes", "README.md", "sub/notes.txt", "weights.bin"]
    top = {e.path: type(e).__name__ for e in client.list_repo_tree("acme/tiny")}
    assert top["sub"] == "RepoFolder" and "sub/notes.txt" not in top
    [entry] = client.get_paths_info("acme/tiny", ["weights.bin"], expand=True)
    assert entry.lfs.sha256 and entry.size == 2048
    [commits_head, initial] = client.list_repo_commits("acme/tiny")
    assert commits_head.commit_id == commit.oid and initial.title == "initial commit"

    path = hf_hub_download("acme/tiny", "weights.bin", cache_dir=tmp_path / "c1", token="hf_alice")
    assert Path(path).read_bytes() == (folder / "weights.bin").read_bytes()
    snap = Path(snapshot_download("acme/tiny", cache_dir=tmp_path / "c2", token="hf_alice"))
    for rel in ("README.md", "weights.bin", "sub/notes.txt"):
        assert (snap / rel).read_bytes() == (folder / rel).read_bytes()


def test_identical_push_is_a_noop(hub, folder):
    client = api(hub)
    client.create_repo("alice/same")
    first = client.upload_folder(repo_id="alice/same", folder_path=folder)
    second = client.upload_folder(repo_id="alice/same", folder_path=folder)
    assert second.oid == first.oid
    assert len(client.list_repo_commits("alice/same")) == 2


def test_lfs_upload_checks_sha256_and_signature(hub):
    api(hub).create_repo("alice/lfs")
    oid, size = "ab" * 32, 4

    def call(method, url, body=b"", headers=None):
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    status, body = call("POST", f"{hub.endpoint}/alice/lfs.git/info/lfs/objects/batch",
                        json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": size}]}).encode(),
                        {"Authorization": "Bearer hf_alice", "Content-Type": "application/json"})
    href = json.loads(body)["objects"][0]["actions"]["upload"]["href"]
    assert call("PUT", href, b"nope")[0] == 400  # content does not hash to oid
    assert call("PUT", href.split("&sig=")[0] + "&sig=0", b"nope")[0] == 403
    status, _ = call("POST", f"{hub.endpoint}/alice/lfs.git/info/lfs/objects/batch", b"{}")
    assert status == 401


def test_branches_and_revision_uploads(hub, tmp_path):
    client = api(hub)
    client.create_repo("alice/br")
    client.create_branch("alice/br", branch="dev")
    client.create_branch("alice/br", branch="dev", exist_ok=True)
    client.upload_file(path_or_fileobj=b"on dev", path_in_repo="dev.txt", repo_id="alice/br", revision="dev")
    assert "dev.txt" not in client.list_repo_files("alice/br")
    assert "dev.txt" in client.list_repo_files("alice/br", revision="dev")
    refs = client.list_repo_refs("alice/br")
    assert sorted(b.name for b in refs.branches) == ["dev", "main"]
    path = hf_hub_download("alice/br", "dev.txt", revision="dev", cache_dir=tmp_path / "c", token="hf_alice")
    assert Path(path).read_bytes() == b"on dev"
    client.delete_branch("alice/br", branch="dev")
    with pytest.raises(RevisionNotFoundError):
        client.model_info("alice/br", revision="dev")


def test_create_pr_and_parent_commit(hub):
    client = api(hub)
    client.create_repo("alice/pr")
    head = client.model_info("alice/pr").sha
    commit = client.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/pr", create_pr=True)
    assert commit.pr_url == f"{hub.endpoint}/alice/pr/discussions/1" and commit.pr_revision == "refs/pr/1"
    assert client.model_info("alice/pr").sha == head  # main untouched
    assert "x.txt" in client.list_repo_files("alice/pr", revision="refs/pr/1")
    prs = client.list_repo_refs("alice/pr", include_pull_requests=True).pull_requests
    assert [(p.ref, p.target_commit) for p in prs] == [("refs/pr/1", commit.oid)]
    client.upload_file(path_or_fileobj=b"y", path_in_repo="y.txt", repo_id="alice/pr", parent_commit=head)
    with pytest.raises(HfHubHTTPError) as err:
        client.create_commit("alice/pr", [CommitOperationAdd("z.txt", b"z")], commit_message="z", parent_commit=head)
    assert err.value.response.status_code == 412


def test_validate_yaml_rejects_broken_front_matter(hub):
    client = api(hub)
    client.create_repo("alice/card")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        client.upload_file(path_or_fileobj=b"---\nlicense: [mit\n---\n", path_in_repo="README.md", repo_id="alice/card")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        client.upload_file(path_or_fileobj=b"---\n- a list\n---\n", path_in_repo="README.md", repo_id="alice/card")
    assert len(client.list_repo_commits("alice/card")) == 1  # nothing was committed
    ModelCard(CARD).validate()  # RepoCard.validate posts to constants.ENDPOINT, patched by client_env()
    assert ("POST", "/api/validate-yaml") in hub.requests


def test_fail_next_then_retry(hub, folder):
    client = api(hub)
    client.create_repo("alice/flaky")
    hub.fail_next("POST", "/commit/", status=500)
    with pytest.raises(HfHubHTTPError) as err:  # the client does not retry commits
        client.upload_folder(repo_id="alice/flaky", folder_path=folder)
    assert err.value.response.status_code == 500
    commit = client.upload_folder(repo_id="alice/flaky", folder_path=folder)
    assert client.model_info("alice/flaky").sha == commit.oid
    hub.fail_next("POST", "/preupload/", status=503)  # preupload goes through http_backoff: retried after 1 s
    client.upload_file(path_or_fileobj=b"again", path_in_repo="again.txt", repo_id="alice/flaky")
    assert [m for m, p in hub.requests if "/preupload/" in p][-2:] == ["POST", "POST"]
    assert "again.txt" in client.list_repo_files("alice/flaky")


def test_two_instances_share_a_root(hub, tmp_path):
    api(hub).create_repo("alice/shared")
    api(hub).upload_file(path_or_fileobj=b"shared", path_in_repo="s.txt", repo_id="alice/shared")
    with LocalHub(hub.root) as other:
        assert HfApi(endpoint=other.endpoint, token="hf_alice").list_repo_files("alice/shared") == [
            ".gitattributes", "s.txt"]
        path = hf_hub_download("alice/shared", "s.txt", endpoint=other.endpoint, cache_dir=tmp_path / "c")
        assert Path(path).read_bytes() == b"shared"
    assert os.path.isdir(hub.root)  # a given root is never removed
