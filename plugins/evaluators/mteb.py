"""MTEB: run real mteb task classes (their metadata and their scoring code) on a model, offline when need be.

mteb task objects hold their data in `task.dataset` and skip loading when `task.data_loaded` is set (mteb 2.26:
`abstasks/abstask.py` `AbsTask.evaluate`/`load_data`, `evaluate.py` `_evaluate_task`, which also leaves preloaded
data alone). This plugin fills those two attributes from local files in exactly the shape mteb's own loaders build,
then lets `mteb.evaluate` do the rest, so metrics are mteb's, not re-implemented:

- STS tasks (`abstasks/sts.py`): a DatasetDict of split -> Dataset(sentence1, sentence2, score on the task's
  min_score..max_score scale). STSBenchmark comes from the STS Benchmark test split bundled with hubembed, the same
  1,379 pairs and 0-5 scores as `mteb/stsbenchmark-sts`.
- Retrieval tasks (`abstasks/retrieval.py`, `abstasks/retrieval_dataset_loaders.py`): {"default": {split:
  {"corpus": Dataset(id, title, text), "queries": Dataset(id, text) restricted to queries with qrels,
  "relevant_docs": {query_id: {doc_id: int}}, "top_ranked": None}}}, read from a folder in BEIR layout.

Local data wins whenever it exists: it is the same data as the pinned Hub revision, needs no network and costs no
download. Tasks without local data are loaded by mteb itself from the Hub (or the datasets cache), but only after
a quick reachability check: mteb's loader spends ~25 s in retries before it fails when the Hub is unreachable.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.api import (
    STSB,
    ConfigError,
    DataError,
    EvalContext,
    Evaluator,
    Flag,
    HubembedError,
    Score,
    read_files,
    read_stsb,
)

# a couple of useful metrics reported next to each task type's main score (when the task computes them)
SECONDARY: dict[str, tuple[str, ...]] = {
    "STS": ("cosine_pearson",),
    "Retrieval": ("map_at_10", "recall_at_100"),
    "Reranking": ("map_at_1000", "mrr_at_10"),
    "Classification": ("f1",),
    "PairClassification": ("max_f1",),
}
BEIR_LAYOUT = "corpus.jsonl[.gz], queries.jsonl[.gz] and qrels/{split}.tsv (query-id, corpus-id, score; with header)"


@dataclass(frozen=True)
class Params:
    tasks: str = field(default="STSBenchmark", metadata={"help": "comma-separated MTEB task names"})
    data_dir: str | None = field(
        default=None,
        metadata={"help": "folder with local task data (e.g. scifact/ in BEIR layout) for when the Hub is unreachable"},
    )


class MTEBEvaluator(Evaluator):
    summary = "MTEB tasks (STSBenchmark, SciFact, ...) scored by mteb itself, from local data when offline"
    Params = Params
    flags = (  # `hubembed eval --mteb TASK,... [--mteb-data DIR]`: the first flag chooses this evaluator
        Flag("--mteb", "MTEB tasks, e.g. STSBenchmark,SciFact", param="tasks", metavar="TASK,..."),
        Flag("--mteb-data", "Folder with local task data (e.g. scifact/ in BEIR layout)", param="data_dir", metavar="DIR"),
    )
    citation = """@article{muennighoff2022mteb,
  author = {Muennighoff, Niklas and Tazi, Nouamane and Magne, Lo{\\"\\i}c and Reimers, Nils},
  title = {MTEB: Massive Text Embedding Benchmark},
  publisher = {arXiv},
  journal = {arXiv preprint arXiv:2210.07316},
  year = {2022},
  url = {https://arxiv.org/abs/2210.07316},
  doi = {10.48550/ARXIV.2210.07316},
}"""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.task_names = [n.strip() for n in str(self.params.tasks).split(",") if n.strip()]
        if not self.task_names:
            raise ConfigError("mteb: no task given; set tasks to MTEB task names, e.g. tasks=STSBenchmark,SciFact")

    # -- evaluation ------------------------------------------------------------------------------------------
    def evaluate(self, model: Any, ctx: EvalContext) -> list[Score]:
        import mteb

        # resolve every task and its data before encoding anything: a typo in the last task fails in seconds
        tasks = [self._get_task(mteb, name) for name in self.task_names]
        n_retrieval = sum(t.metadata.type == "Retrieval" for t in tasks)
        for task in tasks:
            self._load(task, ctx, n_retrieval)

        scores: list[Score] = []
        for i, task in enumerate(tasks, 1):
            meta = task.metadata
            splits = "/".join(task.eval_splits)
            ctx.log(f"mteb [{i}/{len(tasks)}] {meta.name} ({meta.type}, {splits}): {self._size(task)}")
            if meta.superseded_by:
                ctx.log(
                    f"mteb: note {meta.name} is superseded by {meta.superseded_by} in mteb; "
                    f"its scores stay comparable with published {meta.name} results"
                )
            start = time.monotonic()
            with _quiet_mteb():
                result = mteb.evaluate(
                    model,
                    task,
                    cache=None,  # no results cache anywhere (mteb's default writes ~/.cache/mteb)
                    overwrite_strategy="always",
                    co2_tracker=False,  # codecarbon, when installed, would probe the machine and write files
                    encode_kwargs={"batch_size": ctx.batch_size, "show_progress_bar": True},
                    show_progress_bar=False,
                )
            if result.exceptions:
                raise HubembedError(f"mteb: {meta.name} failed: {result.exceptions[0].exception}")
            task_scores = self._to_scores(task, result.task_results[0])
            scores.extend(task_scores)
            main = ", ".join(f"{s.split} {s.metric}={s.value:.4f}" for s in task_scores if s.main)
            ctx.log(f"mteb [{i}/{len(tasks)}] {meta.name}: {main} ({time.monotonic() - start:.0f}s)")
        return scores

    @staticmethod
    def _to_scores(task: Any, task_result: Any) -> list[Score]:
        meta = task.metadata
        metrics = (meta.main_score, *(m for m in SECONDARY.get(meta.type, ()) if m != meta.main_score))
        scores = []
        for split, per_subset in task_result.scores.items():
            for subset_scores in per_subset:
                subset = subset_scores.get("hf_subset", "default")
                suffix = "" if subset == "default" else f" ({subset})"
                for metric in metrics:
                    if metric not in subset_scores:
                        continue
                    scores.append(
                        Score(
                            task=meta.name + suffix,
                            task_type=meta.type,
                            dataset=meta.dataset["path"],
                            dataset_name=f"MTEB {meta.name}{suffix}",
                            split=split,
                            metric=metric,
                            value=float(subset_scores[metric]),
                            revision=meta.dataset.get("revision"),
                            main=metric == meta.main_score,
                            task_name=f"MTEB {meta.name}{suffix}",
                        )
                    )
        return scores

    # -- tasks -----------------------------------------------------------------------------------------------
    @staticmethod
    def _get_task(mteb: Any, name: str) -> Any:
        try:
            return mteb.get_task(name)
        except KeyError:  # unknown name: the error below offers the closest ones
            pass
        import difflib

        known = [t.metadata.name for t in mteb.get_tasks(exclude_superseded=False)]
        by_lower = {n.lower(): n for n in known}
        close = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]
        quoted = [repr(c) for c in close]
        hint = f"did you mean {' or '.join(filter(None, [', '.join(quoted[:-1]), quoted[-1]]))}? " if close else ""
        raise ConfigError(
            f"mteb: unknown MTEB task {name!r}; {hint}Task names are case-sensitive; list them with "
            f"`python -c \"import mteb; print([t.metadata.name for t in mteb.get_tasks()])\"`"
        )

    @staticmethod
    def _size(task: Any) -> str:
        """What is about to be encoded, for the progress log (best effort: data of Hub tasks varies in shape)."""
        parts = []
        try:
            for split in task.eval_splits:
                if task.metadata.type == "Retrieval":
                    for per_split in task.dataset.values():
                        data = per_split[split]
                        parts.append(f"{len(data['queries'])} queries, {len(data['corpus'])} documents")
                elif split in task.dataset:
                    unit = "pairs" if task.metadata.type == "STS" else "rows"
                    parts.append(f"{len(task.dataset[split])} {unit}")
        except (KeyError, TypeError, AttributeError):  # an unusual data shape: the log line just says less
            pass
        return "; ".join(parts) or "data loaded"

    # -- data ------------------------------------------------------------------------------------------------
    def _load(self, task: Any, ctx: EvalContext, n_retrieval: int) -> None:
        meta = task.metadata
        source = self._load_local(task, n_retrieval)
        if source is not None:
            pinned = f"{meta.dataset['path']}@{meta.dataset['revision'][:8]}"
            ctx.log(f"mteb: {meta.name} reads {source}: the data of {pinned}")
            return
        wanted = self._wanted_layout(task)
        reason = _hub_unreachable()
        if reason is None:
            ctx.log(f"mteb: {meta.name} has no local data; mteb loads {meta.dataset['path']} (Hub or datasets cache)")
            try:
                task.load_data()
                return
            except Exception as err:  # noqa: BLE001 - any loader failure becomes one actionable line
                reason = f"{type(err).__name__}: {' '.join(str(err).split())[:160]}"
        raise ConfigError(
            f"mteb: no data for {meta.name}: {meta.dataset['path']} cannot be loaded ({reason}); {wanted}"
        )

    def _wanted_layout(self, task: Any) -> str:
        meta = task.metadata
        if meta.type == "Retrieval" and not meta.is_multilingual:
            folder = f"{self.params.data_dir or 'DATA_DIR'}/{self._folder_names(task)[0]}/"
            layout = BEIR_LAYOUT.format(split="/".join(task.eval_splits))
            return f"provide it in BEIR layout as {folder} with {layout}; set data_dir (--set eval.mteb.data_dir=PATH)"
        return (
            f"offline, hubembed reads local data for STSBenchmark (bundled) and for retrieval tasks in BEIR layout "
            f"(data_dir/<task>/); for {meta.name} ({meta.type}) connect to the Hub once"
            + ("" if _offline_mode() else ", or set HF_HUB_OFFLINE=1 to use a copy already in the datasets cache")
        )

    @staticmethod
    def _folder_names(task: Any) -> list[str]:
        meta = task.metadata
        hub_name = str(meta.dataset["path"]).rstrip("/").rsplit("/", 1)[-1]
        names: list[str] = []
        for n in (hub_name.lower(), hub_name, meta.name, meta.name.lower()):
            if n not in names:
                names.append(n)
        return names

    def _load_local(self, task: Any, n_retrieval: int) -> str | None:
        """Fill task.dataset from local files; return where they came from, or None when there are none."""
        meta = task.metadata
        if meta.name == "STSBenchmark":
            return _feed_stsb(task)
        if self.params.data_dir is None or meta.type != "Retrieval" or meta.is_multilingual:
            return None
        root = Path(self.params.data_dir).expanduser()
        if not root.is_dir():
            layout = BEIR_LAYOUT.format(split="/".join(task.eval_splits))
            raise ConfigError(
                f"mteb: data_dir {str(root)!r} is not a folder; for {meta.name} it should hold "
                f"{self._folder_names(task)[0]}/ in BEIR layout ({layout})"
            )
        candidates = [root / n for n in self._folder_names(task)]
        if n_retrieval == 1:  # data_dir may be the task's BEIR folder itself
            candidates.append(root)
        for folder in candidates:
            if _beir_file(folder, "corpus") is not None:
                _feed_beir(task, folder)
                return str(folder)
        return None


class _NotSuperseded(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "is superseded by" not in record.getMessage()


@contextlib.contextmanager
def _quiet_mteb() -> Iterator[None]:
    """Silence what mteb says that a hubembed user cannot act on: the superseded-task notice (logged and warned;
    the plugin says it once, in its own words) and mteb's own calls of renamed sentence-transformers APIs."""
    import warnings

    logger = logging.getLogger("mteb.abstasks.abstask")  # where AbsTask.check_if_dataset_is_superseded logs
    drop = _NotSuperseded()
    logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is superseded by.*")
            for category in (FutureWarning, DeprecationWarning):
                warnings.filterwarnings("ignore", category=category, module=r"mteb(\.|$)")
            yield
    finally:
        logger.removeFilter(drop)


def _feed_stsb(task: Any) -> str:
    from datasets import Dataset, DatasetDict

    s1, s2, gold = read_stsb("test")  # gold on 0-5, the scale of STSBenchmarkSTS.min_score/max_score
    task.dataset = DatasetDict({"test": Dataset.from_dict({"sentence1": s1, "sentence2": s2, "score": gold})})
    task.data_loaded = True
    return f"the bundled STS Benchmark test split ({STSB['test'].hub_id}@{STSB['test'].revision})"


def _beir_file(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_beir(path: Path, needed: tuple[str, ...]) -> list[dict[str, Any]]:
    """The objects of a BEIR corpus or queries file; a bad line is one error naming the file and line."""
    part = read_files(path)[0]  # invalid JSON, a line that is not an object: "FILE line N: ..."
    for i, row in enumerate(part.rows):
        for key in needed:
            if key not in row:
                raise DataError(f'{part.where(i)}: no {key!r}; BEIR lines look like {{"_id": "1", "text": "..."}}')
    return part.rows


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    import csv

    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        for row in rows:
            if not row or row[0] == "query-id":  # header (BEIR writes one)
                continue
            where = f"{path} line {rows.line_num}"
            if len(row) < 3:
                raise DataError(f"{where} has {len(row)} field(s); qrels rows are query-id, corpus-id, score (tab-separated)")
            try:
                relevance = int(float(row[2]))  # like mteb's loader: string ids, int relevance (later rows win)
            except (ValueError, OverflowError):
                raise DataError(f"{where}: score {row[2]!r} is not a number; give a relevance such as 0, 1 or 2") from None
            qrels.setdefault(str(row[0]), {})[str(row[1])] = relevance
    return qrels


def _feed_beir(task: Any, folder: Path) -> None:
    """BEIR folder -> the RetrievalSplitData mteb's RetrievalDatasetLoader.load() returns, per eval split."""
    from datasets import Dataset

    queries_file = _beir_file(folder, "queries")
    if queries_file is None:
        raise ConfigError(f"mteb: {folder} has a corpus but no queries.jsonl[.gz]; expected {BEIR_LAYOUT}")
    docs = _read_beir(_beir_file(folder, "corpus"), ("_id",))  # type: ignore[arg-type]
    corpus = Dataset.from_dict(
        {
            "id": [str(d["_id"]) for d in docs],
            "title": [d.get("title") or "" for d in docs],
            "text": [d.get("text") or "" for d in docs],
        }
    )
    all_queries = _read_beir(queries_file, ("_id", "text"))
    task.dataset = {"default": {}}
    for split in task.eval_splits:
        qrels_file = folder / "qrels" / f"{split}.tsv"
        if not qrels_file.is_file():
            raise ConfigError(f"mteb: {task.metadata.name} evaluates split {split!r} but {qrels_file} is missing")
        qrels = _read_qrels(qrels_file)
        kept = [q for q in all_queries if str(q["_id"]) in qrels]  # as mteb's loader: only queries with qrels
        queries = Dataset.from_dict({"id": [str(q["_id"]) for q in kept], "text": [q["text"] for q in kept]})
        task.dataset["default"][split] = {
            "corpus": corpus,
            "queries": queries,
            "relevant_docs": qrels,
            "top_ranked": None,
        }
    task.data_loaded = True


def _hub_unreachable() -> str | None:
    """Why the Hub cannot be used right now, or None. Offline mode is not a reason: the datasets cache may hold it."""
    from hubembed.api import hub_unreachable  # lazy: loads huggingface_hub

    if _offline_mode():
        return None  # mteb's loader then reads the datasets cache only, without network and without retries
    reason = hub_unreachable()
    return None if reason is None else f"Hub unreachable: {reason}"


def _offline_mode() -> bool:
    from hubembed.api import hub_offline

    return hub_offline()
