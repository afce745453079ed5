"""The held-out split and what a run does with it: cut at the source by anchor, never trained on, scored before and
after, the best step kept; --eval-data and --no-held-out; too little data is one line."""

from __future__ import annotations

import dataclasses
import json

import pytest
from datasets import Dataset

from hubembed import heldout
from hubembed.errors import DataError
from hubembed.testing import tiny_rows

RUN = ("--batch-size", "16", "--precision", "fp32", "--set", "data.limit=400")


def triplets(n: int) -> Dataset:
    columns = tiny_rows("triplet", n=n)
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return Dataset.from_list([r for r in rows for _ in (0, 1)])  # two rows per anchor, as NLI premises have


def test_no_anchor_is_on_both_sides_and_the_split_is_the_same_every_time():
    ds = triplets(200)
    first, again = heldout.split(ds, "triplet"), heldout.split(ds.shuffle(seed=3), "triplet")
    assert set(first.held_out["anchor"]) == set(again.held_out["anchor"])  # row order does not matter
    assert heldout.fingerprint(first.held_out) == heldout.fingerprint(again.held_out)
    assert not set(first.held_out["anchor"]) & set(first.train["anchor"])
    assert len(first.train) + len(first.held_out) == len(ds) and first.groups == len(set(first.held_out["anchor"]))
    assert first.groups == max(heldout.MIN_GROUPS, round(0.05 * len(set(ds["anchor"]))))


def test_the_held_out_rows_are_bounded():
    split = heldout.split(triplets(200), "triplet", share=0.5, max_rows=20)
    assert len(split.held_out) <= 20 and split.groups >= 1
    assert len(heldout.bounded(triplets(200), "triplet", 30)) <= 30


def test_too_few_anchors_is_one_line():
    with pytest.raises(DataError, match="too few to hold out 8 for the in-domain evaluation .* --eval-data FILE, or .* --no-held-out"):
        heldout.split(triplets(10), "triplet")


def _record(out) -> dict:
    return json.loads((out / "metrics.json").read_text())


def _curve(record: dict) -> list[tuple[int, float]]:
    key = record["train"]["eval_metric"]
    return [(e["step"], e[key]) for e in record["train"]["log_history"] if key in e]


def test_own_data_is_held_out_at_the_source_scored_before_and_after_and_leads(run_cli, tiny_model, shared_data, tmp_path):
    out = tmp_path / "out"
    data = shared_data / "nli" / "snli_1.0_dev.csv"
    # hard negatives are mined after the cut: held-out rows must not reach the miner either
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--data", str(data), *RUN, "--max-steps", "4",
                     "--set", "eval.stsb.splits=[validation]", "--set", "training.logging_steps=1", "--output", str(out),
                     env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    record = _record(out)
    held = record["held_out"]
    assert held["source"] == "snli_1.0_dev.csv" and held["shape"] == "triplet" and len(held["fingerprint"]) == 16
    assert record["data"][0]["examples"] == 400 - held["rows"]  # the held-out rows never reached training
    # own data: the in-domain score leads, STSB is a general benchmark beside it
    assert record["scores"]["headline"] == "in-domain retrieval/held-out/ndcg_at_10"
    assert {s["metric"] for s in record["scores"]["base"]} >= {"ndcg_at_10", "cosine_accuracy", "spearman_cosine"}
    assert result.stdout.index("snli_1.0_dev.csv (held-out)") < result.stdout.index("STS Benchmark")
    card = (out / "README.md").read_text()
    assert "| in-domain | snli_1.0_dev.csv (held-out)" in card and "| general | STS Benchmark" in card
    assert f"content fingerprint `{held['fingerprint']}`; none of them reached training" in card
    from huggingface_hub import ModelCard

    index = [r for r in ModelCard.load(out / "README.md").data.eval_results if r.dataset_split == "held-out"]
    assert {(r.dataset_type, r.dataset_revision) for r in index} == {("snli_1.0_dev.csv", held["fingerprint"])}  # never a path
    assert len(_curve(record)) == 4 and "assets/held_out_curve.png" in card and (out / "assets" / "held_out_curve.png").is_file()
    assert f"The weights of step {record['train']['kept_step']} of 4 were kept" in card


def test_the_best_step_is_kept_and_keep_last_keeps_the_last(run_cli, tiny_model, tmp_path):
    """(Evaluations come at most every logging_steps steps; this run logs every 2 of its 20.)"""
    # a learning rate this high makes the tiny model's held-out score peak early, then fall
    runs = {}
    for keep in ("best", "last"):
        out = tmp_path / keep
        result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, *RUN, "--max-steps", "20", "--lr", "0.02",
                         "--eval", "in-domain", "--set", f"training.keep={keep}", "--set", "training.logging_steps=2",
                         "--output", str(out), env={"OMP_NUM_THREADS": "1"})
        assert result.returncode == 0, result.stderr
        runs[keep] = (_record(out), (out / "model.safetensors").read_bytes())
    best, last = runs["best"][0], runs["last"][0]
    curve = _curve(best)
    assert [s for s, _ in curve] == list(range(2, 21, 2))  # ten evaluations (every logged step), the last among them
    first_max = max(curve, key=lambda p: p[1])[0]  # max() keeps the first of equal values, as the trainer does
    assert best["train"]["kept_step"] == first_max < 20
    assert _curve(last) == curve and last["train"]["kept_step"] is None
    assert runs["best"][1] != runs["last"][1]  # different weights: the kept step's, not the last one's
    assert 0 < best["train"]["eval_s"] < best["train"]["runtime_s"]


def test_eval_data_replaces_the_cut_and_no_held_out_trains_on_every_row(run_cli, tiny_model, shared_data, tmp_path):
    nli = shared_data / "nli"
    given = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--data", str(nli / "snli_1.0_dev.csv"), *RUN,
                    "--max-steps", "2", "--eval", "in-domain", "--eval-data", str(nli / "snli_1.0_test.csv"),
                    "--set", "eval.in-domain.max_rows=100", "--output", str(tmp_path / "given"), env={"OMP_NUM_THREADS": "1"})
    assert given.returncode == 0, given.stderr
    record = _record(tmp_path / "given")
    assert record["data"][0]["examples"] == 400 and record["held_out"]["source"] == "snli_1.0_test.csv"
    assert record["held_out"]["origin"] == "--eval-data snli_1.0_test.csv" and record["held_out"]["rows"] <= 100
    assert "eval_data" in (tmp_path / "given" / "hubembed_run.yaml").read_text()
    whole = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--data", str(nli / "snli_1.0_dev.csv"), *RUN,
                    "--max-steps", "2", "--no-held-out", "--set", "eval.stsb.splits=[validation]",
                    "--output", str(tmp_path / "whole"), env={"OMP_NUM_THREADS": "1"})
    assert whole.returncode == 0, whole.stderr
    record = _record(tmp_path / "whole")
    assert record["data"][0]["examples"] == 400 and record["held_out"] is None and record["train"]["kept_step"] is None
    assert record["scores"]["headline"].startswith("STSB")


@pytest.mark.parametrize("args, message", [
    (["--set", "data.limit=12"], "too few to hold out 8 for the in-domain evaluation"),
    (["--eval-data", "missing.csv"], "--eval-data missing.csv: no such file or folder"),
    (["--eval-data", "nli", "--no-held-out"], "--eval-data gives held-out rows and --no-held-out asks for none"),
    (["--eval", "stsb", "--eval-data", "nli"], "--eval-data is scored by an evaluator that holds out rows, and this run has none"),
])
def test_bad_held_out_input_is_one_line(run_cli, tiny_model, tmp_path, args, message):
    result = run_cli("train", "--plugin", "mnr", "--model", tiny_model, "--max-steps", "1", *args,
                     "--output", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_held_out_rows_reach_neither_training_nor_the_miner(tiny_model):
    from hubembed import compat
    from hubembed import config as cfgmod
    from hubembed.pipeline import build_data

    cfg = cfgmod.RunConfig(loss=cfgmod.Step("mnr"), data=(cfgmod.Step("nli", {"limit": 400}),
                                                          cfgmod.Step("hard-negatives", {"range_min": 0, "range_max": 20})))
    run = cfgmod.resolve(cfg)
    train, report, held = build_data(run, compat.check(run), tiny_model, log=lambda m: None)
    assert held is not None and held.shape == "triplet" and report[0].examples == len(held.train) == 400 - len(held.rows)
    held_texts = set(held.rows["anchor"]) | set(held.rows["positive"]) | set(held.rows["negative"])
    trained_texts = {t for column in train.column_names for t in train[column]}
    assert not set(held.rows["anchor"]) & set(train["anchor"])
    # mined negatives come from the training side only: no held-out text beyond those the training rows share
    shared = held_texts & trained_texts
    assert shared <= {t for column in held.train.column_names for t in held.train[column]}


WITH_VALIDATION = '''
from dataclasses import dataclass

from hubembed.api import DataBuilder, tiny_rows


@dataclass(frozen=True)
class Params:
    pass


class WithValidation(DataBuilder):
    """A source with its own validation split (as Hub datasets have)."""

    name = "local.with-validation.v1"
    summary = "tiny triplets with a validation split"
    Params = Params
    produces = ("triplet",)

    def build(self, ctx, upstream):
        from datasets import Dataset, DatasetDict

        rows = tiny_rows("triplet", n=120)
        train = {c: v[:80] for c, v in rows.items()}
        validation = {c: v[80:] for c, v in rows.items()}
        return DatasetDict({"train": Dataset.from_dict(train), "validation": Dataset.from_dict(validation)})
'''


def test_a_sources_validation_split_is_held_out_instead_of_a_cut(run_cli, tiny_model, tmp_path):
    (tmp_path / "source.py").write_text(WITH_VALIDATION)
    out = tmp_path / "out"
    result = run_cli("train", "--code", str(tmp_path / "source.py"), "--plugin", "mnr", "--model", tiny_model,
                     "--data", "local.with-validation", "--eval", "in-domain", "--max-steps", "2", "--batch-size", "8",
                     "--precision", "fp32", "--output", str(out), env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    record = _record(out)
    assert record["held_out"]["origin"] == "the source's validation split" and record["held_out"]["rows"] == 40
    assert record["data"][0]["examples"] == 80  # every training row trains; the validation rows are scored


@pytest.mark.parametrize("steps, logging, every", [(405, 10, 41), (12, 10, 10), (20, 2, 2), (3, 10, 10)])
def test_evaluations_come_ten_times_but_at_most_every_logged_step(steps, logging, every, tmp_path):
    from hubembed import training
    from hubembed.types import TrainingParams, TrainJob

    job = TrainJob(model=None, loss=None, train_dataset=list(range(steps * 32)), output_dir=tmp_path,
                   training=TrainingParams(logging_steps=logging), evaluator=(None, "held-out_cosine_ndcg@10"))
    values = training._evaluation_values(job)
    assert training.total_steps(job) == steps and values["eval_steps"] == values["save_steps"] == every
    assert values["metric_for_best_model"] == "eval_held-out_cosine_ndcg@10" and values["load_best_model_at_end"]
    last = training._evaluation_values(dataclasses.replace(job, training=TrainingParams(logging_steps=logging, keep="last")))
    assert last == {"eval_strategy": "steps", "eval_steps": every}  # keep: last checkpoints as --save-steps says


def test_an_eval_data_file_with_other_columns_is_mapped_with_eval_data_params(run_cli, tiny_model, shared_data, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("q,a\nwhat is it,this\n")
    args = ("train", "--plugin", "mnr", "--model", tiny_model, "--data", str(shared_data / "nli" / "snli_1.0_dev.csv"),
            "--max-steps", "1", "--eval-data", str(mine), "--output", str(tmp_path / "out"))
    unmapped = run_cli(*args)
    assert unmapped.returncode == 2 and "map yours with --set eval_data.columns=" in unmapped.stderr, unmapped.stderr
    mapped = run_cli(*args, "--set", "eval_data.columns={anchor: q, positive: a}")  # now read, but pairs for triplets
    assert mapped.returncode == 2 and "--eval-data: pairs cannot give triplet rows" in mapped.stderr, mapped.stderr
    assert not (tmp_path / "out").exists()
