"""hubembed.hub against LocalHub, through the real huggingface_hub client (loopback only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants

from hubembed import hub as hubmod
from hubembed.errors import HubError
from hubembed.testing.hub_server import LocalHub

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
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # where huggingface_hub would post
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
