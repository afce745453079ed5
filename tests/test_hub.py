"""hubembed.hub against LocalHub, through the real huggingface_hub client (loopback only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from hubembed import hub as hubmod
from hubembed.errors import (ConfigError, HubAuthError, HubConflictError, HubError, HubNotFoundError,
                             HubPermissionError, HubUnreachableError, causes)
from hubembed.testing import LocalHub

CARD = """---
license: apache-2.0
library_name: sentence-transformers
tags: [sentence-similarity]
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
        server.add_user("alice", "hf_alice_secret", orgs=["acme"])
        server.add_user("bob", "hf_bob_secret")
        with server.client_env():
            yield server


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "my-model"
    (root / "checkpoints" / "step-1").mkdir(parents=True)
    (root / "README.md").write_text(CARD)
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    (root / "config.json").write_text('{"dim": 32}\n')
    (root / "checkpoints" / "step-1" / "state.bin").write_bytes(b"\0" * 10)
    (root / "half.partial").write_text("x")
    return root


def files(hub, repo_id, revision=None):
    return HfApi(endpoint=hub.endpoint, token="hf_alice_secret").list_repo_files(repo_id, revision=revision)


def test_resolve_token_order(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    saved = tmp_path / "saved-token"
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(saved))
    assert hubmod.resolve_token(None) is None
    saved.write_text("hf_saved\n")
    assert hubmod.resolve_token(None) == "hf_saved"
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert hubmod.resolve_token(None) == "hf_env"
    token_file = tmp_path / "tok"
    token_file.write_text("  hf_file \n")
    assert hubmod.resolve_token(str(token_file)) == "hf_file"
    with pytest.raises(HubError, match="cannot read the token file"):
        hubmod.resolve_token(str(tmp_path / "missing"))
    token_file.write_text("\n")
    with pytest.raises(HubError, match="is empty"):
        hubmod.resolve_token(str(token_file))


def test_push_default_repo_id_ignores_and_noop_repush(hub, folder):
    first = hubmod.push_folder(folder, token="hf_alice_secret")
    assert first.repo_id == "alice/my-model" and first.changed and first.revision == "main"
    assert first.url == f"{hub.endpoint}/alice/my-model" and first.pr_url is None
    assert files(hub, "alice/my-model") == [".gitattributes", "README.md", "config.json", "model.safetensors"]
    second = hubmod.push_folder(folder, "alice/my-model", token="hf_alice_secret")
    assert second.commit_oid == first.commit_oid and not second.changed
    assert any(m == "PUT" and p.startswith("/lfs/objects/") for m, p in hub.requests)
    assert hubmod.push_folder(folder, "other-name", token="hf_alice_secret").repo_id == "alice/other-name"


def test_push_to_org_private_and_listing(hub, folder, tmp_path):
    result = hubmod.push_folder(folder, "acme/tiny", token="hf_alice_secret", private=True)
    [model] = hubmod.list_models_with_cards("acme", token="hf_alice_secret")
    assert model["id"] == "acme/tiny" and model["sha"] == result.commit_oid
    assert model["cardData"]["license"] == "apache-2.0"
    assert model["cardData"]["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.81
    assert hubmod.list_models_with_cards("acme", token="hf_bob_secret") == []
    with pytest.raises(HubError, match="not found while downloading acme/tiny"):
        hubmod.pull("acme/tiny", output_dir=tmp_path / "out", token="hf_bob_secret")


def test_pull_round_trip(hub, folder, tmp_path):
    hubmod.push_folder(folder, "acme/pub", token="hf_alice_secret")
    out = hubmod.pull("acme/pub", output_dir=tmp_path / "out")
    for name in ("README.md", "config.json", "model.safetensors"):
        assert (out / name).read_bytes() == (folder / name).read_bytes()


def test_wrong_and_missing_token(hub, folder):
    with pytest.raises(HubError) as err:
        hubmod.push_folder(folder, "alice/x", token="hf_wrong_secret")
    message = str(err.value)
    assert "rejected the token" in message and "HF_TOKEN" in message and "hf auth login" in message
    assert "hf_wrong_secret" not in message and "\n" not in message
    with pytest.raises(HubError, match="no Hugging Face token found"):
        hubmod.push_folder(folder, "alice/x")
    with pytest.raises(HubError, match="rejected the token"):
        hubmod.whoami(HfApi(endpoint=hub.endpoint, token="hf_wrong_secret"))
    assert hubmod.whoami(HfApi(endpoint=hub.endpoint, token="hf_alice_secret")) == "alice"


def test_non_member_is_refused(hub, folder):
    with pytest.raises(HubError, match=r"refused .*HTTP 403"):
        hubmod.push_folder(folder, "acme/theirs", token="hf_bob_secret")
    hubmod.push_folder(folder, "alice/mine", token="hf_alice_secret")
    with pytest.raises(HubError, match=r"refused .*HTTP 403"):
        hubmod.push_folder(folder, "alice/mine", token="hf_bob_secret")


def test_branch_and_pull_request(hub, folder):
    main = hubmod.push_folder(folder, "alice/m", token="hf_alice_secret")
    (folder / "extra.txt").write_text("new\n")
    dev = hubmod.push_folder(folder, "alice/m", token="hf_alice_secret", revision="dev")
    assert dev.revision == "dev" and dev.url.endswith("/alice/m/tree/dev") and dev.changed
    assert "extra.txt" in files(hub, "alice/m", "dev") and "extra.txt" not in files(hub, "alice/m")
    pr = hubmod.push_folder(folder, "alice/m", token="hf_alice_secret", create_pr=True, commit_message="Add extra")
    assert pr.pr_url == f"{hub.endpoint}/alice/m/discussions/1" and pr.revision == "refs/pr/1"
    assert HfApi(endpoint=hub.endpoint).model_info("alice/m").sha == main.commit_oid
    with pytest.raises(HubError, match="pull request is always opened against main"):
        hubmod.push_folder(folder, "alice/m", token="hf_alice_secret", create_pr=True, revision="dev")


def test_server_error_then_retry(hub, folder):
    hub.fail_next("POST", "/commit/", status=500)
    with pytest.raises(HubError, match=r"could not reach .* \(network or server error: HTTP 500"):
        hubmod.push_folder(folder, "alice/flaky", token="hf_alice_secret")
    assert hubmod.push_folder(folder, "alice/flaky", token="hf_alice_secret").changed


def test_unreachable_endpoint(tmp_path, folder):
    with LocalHub(tmp_path / "gone") as gone:
        endpoint = gone.endpoint
    with pytest.raises(HubError, match=r"could not reach http://127\.0\.0\.1:\d+ \(network or server error"):
        hubmod.push_folder(folder, "alice/x", token="hf_alice_secret", endpoint=endpoint)


def test_invalid_card_fails_before_anything_is_created(hub, folder):
    (folder / "README.md").write_text("---\nlicense: [mit\n---\n# bad\n")
    with pytest.raises(HubError, match="README.md has invalid metadata"):
        hubmod.push_folder(folder, "alice/bad", token="hf_alice_secret")
    assert not any("/api/repos/create" in p for _, p in hub.requests)


def test_validate_card_uses_the_given_endpoint(hub, monkeypatch):
    # undone before `hub` restores the client: the fixture's monkeypatch would otherwise put back LocalHub's
    # endpoint (set by client_env) after client_env had restored the real one, for every later test module
    with monkeypatch.context() as mp:
        mp.delenv("HF_ENDPOINT", raising=False)
        mp.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # where huggingface_hub would post
        hubmod.validate_card(CARD, endpoint=hub.endpoint)
        assert ("POST", "/api/validate-yaml") in hub.requests
        assert constants.ENDPOINT == "http://127.0.0.1:9"
        hub.fail_next("POST", "/api/validate-yaml", status=400)
        with pytest.raises(HubError, match="README.md has invalid metadata"):
            hubmod.validate_card(CARD, endpoint=hub.endpoint)


def test_sentence_transformer_round_trip(hub, tmp_path):
    torch = pytest.importorskip("torch")
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    base = tmp_path / "bert"
    base.mkdir()
    words = "the a cat dog sat on mat hello world small model".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"abcdefghijklmnopqrstuvwxyz"]
    (base / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(base / "vocab.txt")).save_pretrained(base)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    BertModel(config).save_pretrained(base)
    model = SentenceTransformer(modules=[Transformer(str(base)), Pooling(32, "mean")])
    saved = tmp_path / "tiny-st"
    model.save(str(saved))

    result = hubmod.push_folder(saved, "acme/tiny-st", token="hf_alice_secret")
    assert "model.safetensors" in files(hub, "acme/tiny-st")
    loaded = SentenceTransformer("acme/tiny-st", cache_folder=str(tmp_path / "st-cache"), token="hf_alice_secret")
    sentences = ["the cat sat on the mat", "hello world"]
    assert torch.allclose(torch.tensor(loaded.encode(sentences)), torch.tensor(model.encode(sentences)), atol=1e-6)
    assert any(f"/acme/tiny-st/resolve/{result.commit_oid}/" in p or "/acme/tiny-st/resolve/main/" in p
               for _, p in hub.requests)


# -- typed errors: the class and status a caller can branch on, the library's exception kept as the cause -----
def raised(call, *args, **kwargs) -> HubError:
    with pytest.raises(HubError) as info:
        call(*args, **kwargs)
    return info.value


def test_a_bad_token_is_an_auth_error_with_status_401(hub, folder):
    err = raised(hubmod.push_folder, folder, "alice/x", token="hf_wrong_secret")
    assert type(err) is HubAuthError and err.status == 401 and "HTTP 401" in str(err)
    assert isinstance(err.__cause__, HfHubHTTPError) and err.__cause__.response.status_code == 401
    assert "hf_wrong_secret" not in str(err)
    missing = raised(hubmod.push_folder, folder, "alice/x")
    assert type(missing) is HubAuthError and missing.status is None and str(missing) == hubmod.NO_TOKEN


def test_missing_repos_and_revisions_are_not_found(hub, folder, tmp_path):
    hubmod.push_folder(folder, "alice/m", token="hf_alice_secret")
    err = raised(hubmod.pull, "alice/nothing", output_dir=tmp_path / "o", token="hf_alice_secret")
    assert type(err) is HubNotFoundError and err.status == 404 and isinstance(err.__cause__, RepositoryNotFoundError)
    anonymous = raised(hubmod.model_cards, ["alice/nothing"])  # the Hub answers 401 to anonymous reads
    assert type(anonymous) is HubNotFoundError and anonymous.status == 401 and "not logged in" in str(anonymous)
    revision = raised(hubmod.model_cards, ["alice/m@nope"], token="hf_alice_secret")
    assert type(revision) is HubNotFoundError and revision.status == 404 and "check --revision" in str(revision)
    assert isinstance(revision.__cause__, RevisionNotFoundError)


def test_no_write_access_is_a_permission_error(hub, folder):
    err = raised(hubmod.push_folder, folder, "acme/theirs", token="hf_bob_secret")
    assert type(err) is HubPermissionError and err.status == 403 and isinstance(err.__cause__, HfHubHTTPError)


def test_a_concurrent_commit_is_a_conflict(hub, folder):
    first = hubmod.push_folder(folder, "alice/race", token="hf_alice_secret")
    api = HfApi(endpoint=hub.endpoint, token="hf_alice_secret")
    api.upload_file(path_or_fileobj=b"theirs", path_in_repo="theirs.txt", repo_id="alice/race")  # someone else
    with pytest.raises(HfHubHTTPError) as info:
        api.upload_file(path_or_fileobj=b"mine", path_in_repo="mine.txt", repo_id="alice/race",
                        parent_commit=first.commit_oid)
    err = hubmod.hub_error(info.value, "pushing to alice/race", hub.endpoint, "hf_alice_secret")
    assert type(err) is HubConflictError and err.status == 412 and err.__cause__ is info.value
    assert "someone pushed at the same time" in str(err)
    hub.fail_next("POST", "/commit/", status=409)
    assert raised(hubmod.push_folder, folder, "alice/race2", token="hf_alice_secret").status == 409


def test_an_unreachable_endpoint_or_a_failing_server_is_unreachable(hub, tmp_path, folder):
    with LocalHub(tmp_path / "gone") as gone:
        endpoint = gone.endpoint
    err = raised(hubmod.push_folder, folder, "alice/x", token="hf_alice_secret", endpoint=endpoint)
    assert type(err) is HubUnreachableError and err.status is None and err.__cause__ is not None
    assert any(isinstance(e, ConnectionRefusedError) for e in causes(err.__cause__))  # under httpx's ConnectError
    hub.fail_next("POST", "/commit/", status=500)
    server = raised(hubmod.push_folder, folder, "alice/flaky", token="hf_alice_secret")
    assert type(server) is HubUnreachableError and server.status == 500 and "retry later" in str(server)


def test_hub_error_leaves_other_exceptions_alone_and_pickles_with_its_status(hub):
    import pickle

    assert hubmod.hub_error(KeyError("x"), "reading", hub.endpoint) is None
    err = pickle.loads(pickle.dumps(HubPermissionError("refused", 403)))
    assert type(err) is HubPermissionError and err.status == 403 and str(err) == "refused"


def test_reachability_probe(hub, tmp_path, monkeypatch):
    assert hubmod.unreachable(hub.endpoint) is None
    assert hubmod.unreachable() is None  # client_env points the client's endpoint at LocalHub
    with LocalHub(tmp_path / "gone") as gone:
        endpoint = gone.endpoint
    assert hubmod.unreachable(endpoint) == "127.0.0.1: Connection refused"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hubmod.offline() and hubmod.unreachable(hub.endpoint) == "HF_HUB_OFFLINE is set"


def test_model_revision_on_the_hub_and_in_the_cache(hub, folder, tmp_path, monkeypatch):
    pushed = hubmod.push_folder(folder, "alice/rev", token="hf_alice_secret")
    assert hubmod.model_revision("alice/rev") == pushed.commit_oid
    with pytest.raises(HubNotFoundError):
        hubmod.model_revision("alice/none")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    assert hubmod.cached_revision("alice/rev", "config.json") is None
    from huggingface_hub import hf_hub_download

    hf_hub_download("alice/rev", "config.json", cache_dir=constants.HF_HUB_CACHE)
    assert hubmod.cached_revision("alice/rev", "config.json") == pushed.commit_oid


def test_default_repo_id_and_the_pull_request_check(hub):
    assert hubmod.default_repo_id("acme/x", "run", token=None) == "acme/x"  # no request needed
    assert hubmod.default_repo_id(None, "run", token="hf_alice_secret") == "alice/run"
    assert hubmod.default_repo_id("other", "run", token="hf_alice_secret") == "alice/other"
    with pytest.raises(HubError, match="pass --repo-id org/name"):
        hubmod.default_repo_id(None, "my run", token="hf_alice_secret")
    hubmod.check_pr_revision(True, "main")
    hubmod.check_pr_revision(False, "dev")
    with pytest.raises(ConfigError, match="always opened against main"):
        hubmod.check_pr_revision(True, "dev", error=ConfigError)


def test_local_hub_is_a_production_module_and_still_a_test_helper():
    import hubembed.localhub
    import hubembed.testing
    import hubembed.testing.hub_server

    assert hubembed.testing.LocalHub is hubembed.localhub.LocalHub is hubembed.testing.hub_server.LocalHub
