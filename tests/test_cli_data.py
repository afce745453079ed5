"""`hubembed data build`: the real command in a subprocess, on the tiny model: parquet + dataset card + the chain
file that rebuilds it, one-line errors that leave nothing behind, and a push to LocalHub as a dataset repo."""

from __future__ import annotations

import json

import pytest

MINER = [
    "--set", "data.nli.limit=64", "--set", "data.hard-negatives.range_min=2", "--set", "data.hard-negatives.range_max=12",
    "--set", "data.hard-negatives.relative_margin=null", "--set", "data.hard-negatives.num_negatives=2",
    "--set", "data.hard-negatives.precision=fp32",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model, run_cli):
    out = tmp_path_factory.mktemp("data") / "nli-hn"
    result = run_cli("data", "build", "--data", "nli", "--data", "hard-negatives", "--plugin", "mnr", *MINER,
                     "--model", tiny_model, "--output", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def test_writes_parquet_card_stats_and_chain(built):
    from datasets import Dataset
    from huggingface_hub import DatasetCard

    out, result = built
    ds = Dataset.from_parquet(str(out / "data" / "train-00000-of-00001.parquet"))
    assert ds.column_names == ["anchor", "positive", "negative_1", "negative_2", "negative_3"] and len(ds) > 0
    assert "Built" in result.stdout and "n-tuple rows" in result.stdout
    card = DatasetCard.load(out / "README.md")
    assert card.data.configs[0]["data_files"][0]["path"] == "data/train-*"
    assert {"hubembed", "nli", "hard-negatives", "n-tuple"} <= set(card.data.tags)
    assert card.data.source_datasets == ["Tikquuss/nli_dataset"]
    assert "`hubembed.hard-negatives.v1`" in card.text and "anchors_with_negatives" in card.text
    stats = json.loads((out / "stats.json").read_text())
    assert [s["name"] for s in stats] == ["hubembed.nli.v1", "hubembed.hard-negatives.v1"]
    assert stats[1]["stats"]["anchors_with_negatives"] == len(set(ds["anchor"]))
    assert not list(out.parent.glob(".*partial"))


def test_the_chain_file_rebuilds_the_same_rows(built, tiny_model, run_cli, tmp_path):
    out, _ = built
    again = tmp_path / "again"
    result = run_cli("data", "build", "--config", str(out / "hubembed_data.yaml"), "--model", tiny_model, "--output", str(again))
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = (json.loads((d / "stats.json").read_text()) for d in (out, again))
    assert [s["fingerprint"] for s in first] == [s["fingerprint"] for s in second]
    assert second[1]["stats"]["embeddings_cached"] is True  # same model and data: no second embedding pass


def test_the_card_template_is_a_file_in_cards_and_every_placeholder_is_filled():
    from importlib.resources import files

    from hubembed.cli.data import CARD_TEMPLATE, render_card

    assert (files("hubembed_cards") / CARD_TEMPLATE).is_file()
    step = {"name": "hubembed.nli.v1", "short": "nli", "distribution": "hubembed", "version": "0.1.0", "shape": "pair",
            "examples": 3, "fingerprint": "f00d", "params": {"limit": 3}, "stats": {"hub_id": "org/nli"}}
    ctx = {"rows": 3, "shape": "pair", "columns": ["anchor", "positive"], "steps": [step], "model": "m", "seed": 1,
           "data_yaml": "data: []", "duration_s": 0.5, "hardware": "CPU", "citations": [], "splits": ["train"]}
    card = render_card(ctx, "tiny-set", repo_id="me/tiny-set")
    assert card.data.source_datasets == ["org/nli"] and card.data.size_categories == "n<1K"
    assert 'load_dataset("me/tiny-set"' in card.text and "| 1 | `hubembed.nli.v1` |" in card.text
    assert "{{" not in str(card) and "{%" not in str(card)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "hard-negatives"], "needs a source before it, e.g. --data nli --data hard-negatives"),
        (["--data", "nli", "--data", "hard-negatives", "--shape", "pair-score"], "produces n-tuple/triplet, not pair-score"),
        (["--data", "nli", "--set", "loss.scale=3"], "takes data.PARAM"),
        (["--data", "nli", "--repo-id", "me/x"], "only mean something with --push"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args, message, run_cli, tmp_path):
    out = tmp_path / "out"
    result = run_cli("data", "build", *args, "--output", str(out))
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_push_as_a_dataset_repo_to_local_hub(tiny_model, run_cli, tmp_path):
    """A push with a bad token fails and leaves the card as built; the same build with the right token pushes."""
    from huggingface_hub import HfApi

    from hubembed.testing.hub_server import LocalHub

    corpus = tmp_path / "domain.txt"
    corpus.write_text("The pump failed at dawn.\nThe valve leaks oil.\nBearings need grease every month.\n")
    out = tmp_path / "pump-sentences"
    with LocalHub(tmp_path / "hub") as hub:
        hub.add_user("alice", "hf_alice_secret")

        def build_and_push(token: str):
            env = {"HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1", "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": token}
            return run_cli("data", "build", "--data", str(corpus), "--model", tiny_model, "--output", str(out),
                           "--overwrite", "--push", "--repo-id", "alice/pump-sentences", env=env)

        failed = build_and_push("hf_wrong")
        assert failed.returncode == 2 and "rejected the token" in failed.stderr, failed.stderr[-2000:]
        card = (out / "README.md").read_text()
        assert 'load_dataset("pump-sentences"' in card and "alice/pump-sentences" not in card

        result = build_and_push("hf_alice_secret")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Pushed" in result.stdout and "alice/pump-sentences" in result.stdout
        files = HfApi(endpoint=hub.endpoint, token="hf_alice_secret").list_repo_files("alice/pump-sentences", repo_type="dataset")
    assert {"README.md", "hubembed_data.yaml", "stats.json", "data/train-00000-of-00001.parquet"} <= set(files)
    assert 'load_dataset("alice/pump-sentences"' in (out / "README.md").read_text()
    assert "hf_alice_secret" not in result.stdout + result.stderr
