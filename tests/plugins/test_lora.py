"""The lora trainer: a PEFT adapter trained through the real CLI on the tiny model, saved small, merged into a model
with the same embeddings, loaded back from a Hub repo by its id; layers it cannot adapt are one clear line."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

FAST = ["--set", "data.limit=64", "--max-steps", "4", "--batch-size", "16", "--lr", "1e-3",
        "--set", "training.keep=last",  # 4 steps: the adapter must have moved, not be step 1's
        "--set", "eval.stsb.splits=[validation]"]
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # the tiny model: 2 spinning threads are 5x slower on a busy 2-core machine
TEXTS = ["A man is playing a guitar.", "A woman is slicing an onion.", "The cat sleeps on the sofa."]


def test_lora_run_saves_an_adapter_and_a_merged_model(run_cli, tiny_model, tmp_path):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "lora"
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--trainer", "lora", "--merge", "--output", str(out), *FAST, env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert "LoRA r=8" in result.stderr
    assert "a LoRA adapter (" in result.stdout and f"on {tiny_model}; merged model: {out}/merged/" in result.stdout
    assert (out / "adapter_model.safetensors").exists() and (out / "adapter_config.json").exists()
    assert not (out / "model.safetensors").exists()  # the adapter, not a full copy of the weights
    assert (out / "merged" / "model.safetensors").exists()

    metrics = json.loads((out / "metrics.json").read_text())
    w = metrics["weights"]
    assert w["format"] == "lora-adapter" and w["merged"]["path"] == "merged"
    assert 0 < w["trainable_params"] < w["total_params"] and w["trainable_share"] < 0.1
    assert w["adapter"]["bytes"] == (out / "adapter_model.safetensors").stat().st_size < w["merged"]["bytes"] / 5
    assert w["adapter"]["target_modules"] == ["key", "query", "value"] and w["adapter"]["r"] == 8
    assert w["base_model"]["id"] == tiny_model  # a local base is named by its path
    run = json.loads(json.dumps(__import__("yaml").safe_load((out / "hubembed_run.yaml").read_text())))
    assert run["trainer"]["name"] == "hubembed.lora.v1" and run["trainer"]["params"]["merge"] is True

    adapter = SentenceTransformer(str(out))  # loads the base the adapter names, then the adapter
    merged = SentenceTransformer(str(out / "merged"))
    base = SentenceTransformer(tiny_model)
    assert np.abs(adapter.encode(TEXTS) - merged.encode(TEXTS)).max() < 1e-5
    assert np.abs(adapter.encode(TEXTS) - base.encode(TEXTS)).max() > 1e-4  # training changed something
    assert w["merged"]["max_abs_diff"] < 1e-5


def test_lora_bad_input_is_one_line_and_writes_nothing(run_cli, tiny_model, tmp_path):
    out = tmp_path / "bad"
    wrong = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--trainer", "lora", "--output", str(out),
                    "--set", "trainer.target_modules=[q_proj,v_proj]", *FAST, env=ONE_THREAD)
    assert wrong.returncode == 2, wrong.stderr
    last = wrong.stderr.strip().splitlines()[-1]
    assert last.startswith("error: LoRA target module(s) q_proj, v_proj not in this bert model") and "query" in last
    assert not out.exists() and not list(tmp_path.glob(".*partial"))

    merge_full = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--merge", "--output", str(out), *FAST, env=ONE_THREAD)
    assert merge_full.returncode == 2 and "--merge applies to the trainer plugin(s) lora, not full" in merge_full.stderr
    bad_rank = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--trainer", "lora", "--set", "trainer.r=0",
                       "--output", str(out), *FAST, env=ONE_THREAD)
    assert bad_rank.returncode == 2 and "r must be at least 1" in bad_rank.stderr


def test_target_modules_are_detected_per_architecture():
    import torch
    from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, FunnelConfig, FunnelModel

    from hubembed.errors import ConfigError
    from hubembed_plugins.trainers.lora import LoraTrainer, Params

    torch.manual_seed(0)
    small = dict(vocab_size=100, max_position_embeddings=32)
    bert = BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, **small))
    distil = DistilBertModel(DistilBertConfig(dim=16, n_layers=1, n_heads=2, hidden_dim=32, **small))
    funnel = FunnelModel(FunnelConfig(d_model=16, n_head=2, d_head=8, d_inner=32, block_sizes=[1], vocab_size=100))
    assert LoraTrainer().targets(bert) == ["query", "key", "value"]
    assert LoraTrainer().targets(distil) == ["q_lin", "k_lin", "v_lin"]
    with pytest.raises(ConfigError, match=r"does not know which layers to adapt in a funnel model.*q_head"):
        LoraTrainer().targets(funnel)
    assert LoraTrainer(Params(target_modules=("q_head", "v_head"))).targets(funnel) == ["q_head", "v_head"]


def test_the_adapter_trains_at_its_own_learning_rate(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from hubembed.registry import registry
    from hubembed.training import trainer_arguments
    from hubembed.types import TrainingParams, TrainJob
    from hubembed_plugins.trainers.lora import LoraTrainer, Params

    lora = LoraTrainer(Params(lr_multiplier=5.0))
    said = []
    job = TrainJob(model=lora.prepare_model(SentenceTransformer(tiny_model, device="cpu")), loss=registry().create("loss", "mnr"),
                   train_dataset=None, training=TrainingParams(lr=2e-5), output_dir=tmp_path, log=said.append)
    assert trainer_arguments(job, lora) == {"weight_decay": 0.0, "max_grad_norm": 1.0, "learning_rate": 2e-5 * 5.0}
    assert said == ["LoRA r=8 alpha=16 on key, query, value; lr 0.0001"]


def test_pushed_adapter_loads_by_repo_id(run_cli, tiny_model, tmp_path):
    """The adapter names its base by Hub id and revision, so `SentenceTransformer(adapter_repo)` works anywhere the
    base can be downloaded (here: LocalHub, the Hub-compatible test server, with a fresh cache)."""
    import numpy as np
    from huggingface_hub import HfApi
    from sentence_transformers import SentenceTransformer

    from hubembed.testing.hub_server import LocalHub

    with LocalHub(tmp_path / "hub") as hub:
        hub.add_user("alice", "hf_alice", orgs=["acme"])
        with hub.client_env():
            api = HfApi(endpoint=hub.endpoint, token="hf_alice")
            api.create_repo("acme/tiny-bert")
            base_sha = api.upload_folder(repo_id="acme/tiny-bert", folder_path=tiny_model).oid
            env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1",
                   "HF_HOME": str(tmp_path / "hf-train"), "HF_TOKEN": "hf_alice", **ONE_THREAD}
            out = tmp_path / "lora"
            nli = str(files("hubembed") / "data" / "nli-sample.csv.gz")
            trained = run_cli("train", "--plugin", "mnr", "--model", "acme/tiny-bert", "--data", nli, "--eval", "none",
                              "--trainer", "lora", "--merge", "--output", str(out), *FAST[:-2], env=env)
            assert trained.returncode == 0, trained.stderr
            adapter_config = json.loads((out / "adapter_config.json").read_text())
            assert adapter_config["base_model_name_or_path"] == "acme/tiny-bert"
            assert adapter_config["revision"] == base_sha
            assert json.loads((out / "metrics.json").read_text())["weights"]["base_model"] == {"id": "acme/tiny-bert", "revision": base_sha}

            api.create_repo("acme/tiny-lora")
            api.upload_folder(repo_id="acme/tiny-lora", folder_path=str(out), ignore_patterns=["merged/*"])
            loaded = SentenceTransformer("acme/tiny-lora", cache_folder=str(tmp_path / "hf-load"))
            merged = SentenceTransformer(str(out / "merged"))
            assert np.abs(loaded.encode(TEXTS) - merged.encode(TEXTS)).max() < 1e-5


def test_a_peft_too_old_for_this_transformers_is_one_line_before_any_work(run_cli, tiny_model, tmp_path):
    """The pair a fresh install got on 2026-12-01 (transformers 5.24 wants peft 0.22, the newest was 0.21.2): here
    a peft distribution older than what the installed transformers asks for is first on the path."""
    from importlib.metadata import version

    from transformers.integrations.peft import MIN_PEFT_VERSION

    old = tmp_path / "site" / "peft-0.1.0.dist-info"
    old.mkdir(parents=True)
    (old / "METADATA").write_text("Metadata-Version: 2.1\nName: peft\nVersion: 0.1.0\n")
    out = tmp_path / "out"
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--trainer", "lora", "--output", str(out),
                     *FAST, env={"PYTHONPATH": str(tmp_path / "site")})
    assert result.returncode == 2, result.stderr
    want = (f"error: LoRA cannot run here: transformers {version('transformers')} works with adapters only from peft "
            f"{MIN_PEFT_VERSION} on, and peft 0.1.0 is installed; fix: pip install 'peft>={MIN_PEFT_VERSION}'")
    assert result.stderr.startswith(want), result.stderr
    assert "Data step" not in result.stderr  # refused before the data or the model
    assert not out.exists() and not (tmp_path / ".out.partial").exists()
