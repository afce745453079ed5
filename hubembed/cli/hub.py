"""`hubembed push | pull | compare | leaderboard | hub serve`: share runs on the Hugging Face Hub (or a
Hub-compatible server) and compare them by the scores in their cards.

Every Hub call goes through hubembed.hub (this module never imports huggingface_hub). A token is read from
--token-file, HF_TOKEN or `hf auth login` and never printed or written anywhere. Imports here stay light:
`hubembed --help` and `hubembed train --help` load this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from hubembed.errors import ConfigError, GateRefusedError, HubembedError
from hubembed.gate import DEFAULT_MAX_DROP, DEFAULT_MIN_GAIN


def _info(message: str) -> None:
    click.echo(message, err=True)


# -- where the Hub is: --endpoint / HF_ENDPOINT, a token, or LocalHub on loopback ------------------------------
@dataclass
class Target:
    endpoint: str
    token: str | None
    local: bool = False


LOCAL_HUB_HELP = (
    "When no Hub token is configured, use LocalHub (hubembed's test double of the Hub) on 127.0.0.1, with its "
    "repos in $HUBEMBED_LOCAL_HUB or ~/.cache/hubembed/localhub, instead of failing. Says so when it does."
)


def access_options(fn: Callable) -> Callable:
    """--endpoint, --token-file, --local-hub: how to reach a Hub (every command that talks to one)."""
    fn = click.option("--local-hub", is_flag=True, help=LOCAL_HUB_HELP)(fn)
    fn = click.option("--token-file", type=click.Path(dir_okay=False), help="Read the Hub token from this file (else HF_TOKEN, else `hf auth login`).")(fn)
    fn = click.option("--endpoint", metavar="URL", help="A Hub-compatible server (default HF_ENDPOINT, else huggingface.co).")(fn)
    return fn


@contextlib.contextmanager
def target(endpoint: str | None, token_file: str | None, use_local: bool, orgs: tuple[str, ...] = (),
           token: str | None = None) -> Iterator[Target]:
    """Where to talk to: `token` when given (already read), else the one resolve_token finds."""
    from hubembed import hub

    token = token if token is not None else hub.resolve_token(token_file)
    if use_local and token is None and not endpoint and not os.environ.get("HF_ENDPOINT"):
        root = hub.local_hub_root()
        with hub.local_hub(root, orgs=orgs) as (server, local_token):
            click.secho(
                f"No Hugging Face token is configured: using LocalHub, hubembed's test double of the Hub, on "
                f"{server.endpoint} (repos kept in {root}), NOT huggingface.co. Set HF_TOKEN or run "
                f"`hf auth login` to use the Hub.",
                fg="yellow", err=True,
            )
            yield Target(server.endpoint, local_token, local=True)
    else:
        yield Target(hub.resolve_endpoint(endpoint), token)


# -- push ------------------------------------------------------------------------------------------------------
@dataclass
class PushRequest:
    repo_id: str | None = None
    private: bool = False
    revision: str | None = None
    create_pr: bool = False
    commit_message: str | None = None
    endpoint: str | None = None
    token_file: str | None = None
    local_hub: bool = False
    keep_card: bool = False
    ignore_gate: bool = False  # push even when the gate refuses (the decision, overridden, goes into the card)
    min_gain: float = DEFAULT_MIN_GAIN
    max_drop: float = DEFAULT_MAX_DROP
    against: str | None = None  # REPO[@REV] of a team model whose card the run must beat
    _token: str | None = field(default=None, init=False, repr=False, compare=False)  # read from token_file once
    _token_file_rereadable: bool = field(default=True, init=False, repr=False, compare=False)

    def check(self) -> None:
        """Everything that can be checked before any work (and before training): flags, repo id, token file."""
        from hubembed import hub

        hub.check_pr_revision(self.create_pr, self.revision, error=ConfigError)
        if self.repo_id is not None:
            hub.check_repo_id(self.repo_id)
        if self.against is not None:
            hub.split_revision(self.against)
        self.token()  # an unreadable or empty file fails now, not after training

    def token(self) -> str | None:
        """The token: read from --token-file once, since a pipe (`--token-file <(...)`) is empty the second time;
        else HF_TOKEN or the `hf auth login` one; None if none."""
        from hubembed import hub

        if self.token_file is None:
            return hub.resolve_token(None)
        if self._token is None:
            self._token_file_rereadable = Path(self.token_file).expanduser().is_file()
            self._token = hub.resolve_token(self.token_file)
        return self._token

    def retry_command(self, folder: Path, repo_id: str | None, ignore_gate: bool = False) -> str:
        """The exact `hubembed push` that retries this push (never with a token in it; a used-up pipe is left out);
        with `ignore_gate`, the one that pushes it although the gate refused it."""
        parts = ["hubembed", "push", str(folder)]
        repo_id = self.repo_id if self.repo_id and "/" in self.repo_id else repo_id or self.repo_id
        if repo_id:
            parts += ["--repo-id", repo_id]
        for flag, on in (("--private", self.private), ("--create-pr", self.create_pr), ("--local-hub", self.local_hub),
                         ("--keep-card", self.keep_card), ("--ignore-gate", self.ignore_gate or ignore_gate)):
            if on:
                parts.append(flag)
        token_file = self.token_file if self._token_file_rereadable else None
        for flag, value in (("--revision", self.revision), ("--commit-message", self.commit_message),
                            ("--endpoint", self.endpoint), ("--token-file", token_file), ("--against", self.against),
                            ("--min-gain", _changed(self.min_gain, DEFAULT_MIN_GAIN)),
                            ("--max-drop", _changed(self.max_drop, DEFAULT_MAX_DROP))):
            if value:
                parts += [flag, value]
        return shlex.join(parts)

    def retry_hint(self, folder: Path, repo_id: str | None, refused: bool = False) -> str:
        used_up = "" if self._token_file_rereadable else (
            "The --token-file was a pipe, now used up: give the token again (--token-file, HF_TOKEN or "
            "`hf auth login`). ")
        if refused:
            return (f"The run is kept in {folder}/ and nothing was uploaded. {used_up}Push it anyway with:  "
                    f"{self.retry_command(folder, repo_id, ignore_gate=True)}")
        return f"The run is saved in {folder}/. {used_up}Retry the push with:  {self.retry_command(folder, repo_id)}"


def _changed(value: float, default: float) -> str | None:
    return None if value == default else repr(float(value))


GATE_HELP = {
    "ignore_gate": "Push even if the push gate refuses the run (the card then says it was pushed with --ignore-gate).",
    "min_gain": f"Push gate: the headline score must beat the base model's by at least X (default {DEFAULT_MIN_GAIN:g}: "
                "any gain).",
    "max_drop": f"Push gate: no other main score (general benchmarks) may fall below the base model's by more than X "
                f"(default {DEFAULT_MAX_DROP:g}).",
    "against": "Push gate: the headline score must also beat a team model's card on the same metric, dataset, split "
               "and data revision.",
}


def gate_options(fn: Callable) -> Callable:
    """--ignore-gate, --min-gain, --max-drop, --against: the push gate's flags (`hubembed push`, `train --push`).
    The numbers are read as text, so a bad one is the gate's one-line error, not click's usage screen."""
    fn = click.option("--against", metavar="REPO[@REV]", help=GATE_HELP["against"])(fn)
    fn = click.option("--max-drop", metavar="X", help=GATE_HELP["max_drop"])(fn)
    fn = click.option("--min-gain", metavar="X", help=GATE_HELP["min_gain"])(fn)
    fn = click.option("--ignore-gate", is_flag=True, help=GATE_HELP["ignore_gate"])(fn)
    return fn


def gate_fields(min_gain: str | None, max_drop: str | None) -> dict[str, float]:
    """The gate's thresholds from their flags; one ConfigError line for a value that is no number >= 0."""
    from hubembed import gate

    return {"min_gain": gate.threshold("--min-gain", min_gain, DEFAULT_MIN_GAIN),
            "max_drop": gate.threshold("--max-drop", max_drop, DEFAULT_MAX_DROP)}


def push_options(fn: Callable) -> Callable:
    """The push flags of `hubembed train` (`--push` and what it takes)."""
    fn = access_options(fn)
    fn = gate_options(fn)
    fn = click.option("--commit-message", metavar="TEXT", help="Commit message (default: Upload <run> with hubembed).")(fn)
    fn = click.option("--create-pr", is_flag=True, help="Open a pull request against main instead of committing to it.")(fn)
    fn = click.option("--revision", metavar="BRANCH", help="Push to this branch (created if missing).")(fn)
    fn = click.option("--private", is_flag=True, help="Create the repo private.")(fn)
    fn = click.option("--repo-id", metavar="ORG/NAME", help="Repo to push to (default <your user>/<output folder name>).")(fn)
    fn = click.option("--push", is_flag=True, help="Push the run to the Hub once it is saved locally.")(fn)
    return fn


def push_request(flags: dict[str, Any]) -> PushRequest | None:
    """The PushRequest of `hubembed train`'s flags, or None without --push (push flags without it are an error)."""
    fields = {k: flags.get(k) for k in ("repo_id", "private", "revision", "create_pr", "commit_message", "endpoint",
                                         "token_file", "local_hub", "ignore_gate", "min_gain", "max_drop", "against")}
    if not flags.get("push"):
        given = [f"--{k.replace('_', '-')}" for k, v in fields.items() if v]
        if given:
            raise ConfigError(f"{', '.join(given)} only mean something with --push: add --push, or drop them")
        return None
    fields.update(gate_fields(fields["min_gain"], fields["max_drop"]))  # a bad threshold fails before training
    request = PushRequest(**{k: v for k, v in fields.items() if v is not None})
    request.check()
    return request


def preflight(request: PushRequest, folder: Path) -> None:
    """Before a long run: fail now if the repo the run's `folder` would be pushed to has a bad name, and say now if
    the push at its end cannot work for lack of a token."""
    from hubembed import hub, launch

    if not request.repo_id:  # the repo will be named after the folder
        hub.check_repo_id(folder.name, fix="pass --repo-id org/name")
    if request.local_hub or not launch.is_main_process():
        return
    if request.token() is None:
        click.secho(
            "warning: no Hugging Face token found (HF_TOKEN, `hf auth login` or --token-file): the model will be "
            "trained and saved, but the push will fail until a token is set", fg="yellow", err=True,
        )


def push_run(folder: Path, request: PushRequest, resolved: dict[str, str] | None = None) -> Any:
    """Render the card for the repo, check it, push the folder; HubError (one line) on any failure."""
    from hubembed import card, hub
    from hubembed.config import RUN_FILE

    folder = hub.check_folder(folder)
    resolved = resolved if resolved is not None else {}
    orgs = (request.repo_id.split("/")[0],) if request.repo_id and "/" in request.repo_id else ()
    with target(request.endpoint, request.token_file, request.local_hub, orgs, token=request.token()) as where:
        gate_run(folder, request, where)  # before any upload or repo creation (and before a token is needed)
        token = hub.require_token(where.token)
        repo_id = hub.default_repo_id(request.repo_id, folder.name, token=token, endpoint=where.endpoint)
        resolved["repo_id"] = repo_id
        readme = None  # None: push README.md as it is (--keep-card, or a folder that is no hubembed run)
        if not request.keep_card and (folder / RUN_FILE).is_file():
            readme = card.rendered(folder, repo_id=repo_id)  # the usage snippet names the repo; in memory for now
        text = readme if readme is not None else hub.read_card(folder)
        if text is not None:
            card.check(text)  # locally first; the server's validate-yaml follows
        result = hub.push_folder(
            folder, repo_id, token=token, endpoint=where.endpoint, private=request.private,
            revision=request.revision, create_pr=request.create_pr, commit_message=request.commit_message,
            readme=readme,
        )
        if readme is not None and readme != hub.read_card(folder):
            hub.write_atomically(folder / card.CARD_FILE, readme)  # pushed: the local card now matches the repo's
        hub.record_push(folder, result, where.endpoint)
        where_to = f"{result.repo_id}" + ("" if result.revision == "main" else f" ({result.revision})")
        note = " on LocalHub" if where.local else ""
        if result.pr_url:
            click.echo(f"Opened a pull request{note} on {result.repo_id}: {result.pr_url}")
        elif result.changed:
            click.echo(f"Pushed {folder}/ to {where_to}{note}: {result.url} (commit {result.commit_oid[:8]})")
        else:
            click.echo(f"Nothing to push: {where_to}{note} already holds this run (commit {result.commit_oid[:8]}).")
        return result


def gate_run(folder: Path, request: PushRequest, where: Target) -> dict[str, Any] | None:
    """The push gate (hubembed.gate) on a run folder: decide, save the decision in its record and card (unless it
    is the one saved already), say it; GateRefusedError when it refused and --ignore-gate was not given. None: the
    folder is no hubembed run, so there is nothing to check."""
    from hubembed import card, gate, hub
    from hubembed import record as run_record
    from hubembed.config import RUN_FILE

    if not (folder / RUN_FILE).is_file():
        _info(f"Push gate: not checked: {folder} is no hubembed run (no {RUN_FILE})")
        return None
    run, shown = card.saved_run(folder)  # one line when the record cannot be read
    theirs = _against_scores(request.against, where) if request.against and shown.scores.trained else None
    decision = gate.decide(shown, request.min_gain, request.max_drop, theirs, against=request.against,
                           ignore=request.ignore_gate, folder=str(folder))
    if not gate.same(shown.gate, decision):  # a push of an unchanged run leaves its files unchanged
        run_record.load(folder).with_gate(decision).save(folder)
        if not request.keep_card:
            pushed = hub.last_push(folder)
            card.write(folder, run, shown.with_gate(decision), repo_id=pushed["repo_id"] if pushed else None)
    _say_gate(decision)
    if not decision["passed"] and not request.ignore_gate:
        raise GateRefusedError(gate.refusal(decision))
    return decision


def _against_scores(spec: str, where: Target) -> list[dict[str, Any]]:
    """The scores in the card of the team model `spec` (REPO[@REV]), read as `compare` reads them."""
    from hubembed import hub

    cards = hub.model_cards([spec], token=where.token, endpoint=where.endpoint)
    return _card_scores(cards[0].get("cardData") or {})


def _say_gate(decision: dict[str, Any]) -> None:
    from hubembed import gate

    conditions = decision["conditions"]
    if [c["what"] for c in conditions] == [gate.NOT_CHECKED]:
        _info(f"Push gate: {gate.NOT_CHECKED} (evaluation was turned off, e.g. --eval none): pushing unchecked.")
    elif decision["passed"]:
        _info("Push gate passed: " + "; ".join(c["what"] for c in conditions))
    elif decision["overridden"]:
        click.secho(f"warning: the push gate refused this run ({'; '.join(gate.refusal(decision))}); pushing it "
                    f"anyway because of --ignore-gate, and its card says so", fg="yellow", err=True)


def push_or_explain(folder: Path, request: PushRequest) -> Any:
    """push_run; on failure print why (one line) and the exact command that retries it, exit 2; refused by the push
    gate, one line per failed condition and the command that pushes anyway, exit 3. A failed or refused push
    uploads nothing and leaves the run where it is."""
    resolved: dict[str, str] = {}
    try:
        return push_run(folder, request, resolved)
    except GateRefusedError as err:
        if os.environ.get("HUBEMBED_DEBUG") == "1":
            raise
        for line in err.lines:
            click.secho(f"error: push refused: {line}", fg="red", err=True)
        click.echo(request.retry_hint(Path(folder), resolved.get("repo_id"), refused=True), err=True)
        sys.exit(err.exit_code)
    except HubembedError as err:
        if os.environ.get("HUBEMBED_DEBUG") == "1":
            raise
        click.secho(f"error: push failed: {err}", fg="red", err=True)
        click.echo(request.retry_hint(Path(folder), resolved.get("repo_id")), err=True)
        sys.exit(err.exit_code)


@click.command()
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("--repo-id", metavar="ORG/NAME", help="Repo to push to (default <your user>/<folder name>).")
@click.option("--private", is_flag=True, help="Create the repo private.")
@click.option("--revision", metavar="BRANCH", help="Push to this branch (created if missing).")
@click.option("--create-pr", is_flag=True, help="Open a pull request against main instead of committing to it.")
@click.option("--commit-message", metavar="TEXT", help="Commit message (default: Upload <folder> with hubembed).")
@click.option("--keep-card", is_flag=True, help="Push README.md as it is (default: render it from the run for the repo; the local card follows once the push worked).")
@gate_options
@access_options
def push(output_dir, repo_id, private, revision, create_pr, commit_message, keep_card, ignore_gate, min_gain, max_drop,
         against, endpoint, token_file, local_hub) -> None:
    """Push a run folder (an earlier run, or a failed push) to the Hub, with its card checked first.

    The push gate checks the run first: its headline score beat the base model's (--min-gain), no general benchmark
    fell by more than --max-drop, and with --against it beats a team model's card. A refused push uploads nothing
    and exits with code 3; --ignore-gate pushes anyway, and the card says so.

    \b
    Examples:
      hubembed push runs/mnr
      hubembed push runs/mnr --repo-id my-org/minilm-nli --private
      hubembed push runs/mnr --revision experiment-2 --commit-message "More data"
      hubembed push runs/mnr --repo-id my-org/minilm-nli-2 --against my-org/minilm-nli --min-gain 0.005
    """
    from hubembed import hub

    request = PushRequest(repo_id, private, revision, create_pr, commit_message, endpoint, token_file, local_hub,
                          keep_card, ignore_gate, against=against, **gate_fields(min_gain, max_drop))
    request.check()
    push_or_explain(hub.check_folder(output_dir), request)


# -- pull ------------------------------------------------------------------------------------------------------
@click.command()
@click.argument("repo", metavar="REPO[@REV]")
@click.option("--output", type=click.Path(file_okay=False), help="Folder to download into (default ./<repo name>).")
@click.option("--overwrite", is_flag=True, help="Replace an existing folder (only once the download loads).")
@access_options
def pull(repo, output, overwrite, endpoint, token_file, local_hub) -> None:
    """Download a model from the Hub and check that it loads.

    \b
    Examples:
      hubembed pull my-org/minilm-nli
      hubembed pull my-org/minilm-nli@experiment-2 --output models/exp2
    """
    from hubembed import hub
    from hubembed.pipeline import _publish, check_output, staging_dir

    repo_id, revision = hub.split_revision(repo)
    out = Path(output or repo_id.split("/")[-1])
    check_output(out, overwrite)
    stage = staging_dir(out)
    shutil.rmtree(stage, ignore_errors=True)
    try:
        with target(endpoint, token_file, local_hub) as where:
            hub.pull(repo_id, output_dir=stage, revision=revision, token=where.token, endpoint=where.endpoint)
        shutil.rmtree(stage / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
        dims = _check_loads(stage, repo)
        _publish(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    click.echo(f"Pulled {repo} into {out}/: it loads with sentence-transformers ({dims}-dimensional embeddings).")
    readme = out / "README.md"
    if readme.is_file():
        rows = _card_scores(hub.front_matter(readme.read_text(encoding="utf-8")))
        for row in rows:
            click.echo(f"  {row['label']:<44} {row['value']:.4f}")


def _check_loads(folder: Path, repo: str) -> int:
    from hubembed.errors import ModelLoadError

    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), local_files_only=True)
        return int(model.encode(["hubembed checks that the model loads"]).shape[-1])
    except Exception as err:  # noqa: BLE001 - any failure to load is the user's problem to know about
        raise ModelLoadError(
            f"{repo} downloaded but does not load as a sentence-transformers model "
            f"({type(err).__name__}: {' '.join(str(err).split())[:160]}); nothing was written"
        ) from None


# -- compare / leaderboard -----------------------------------------------------------------------------------
PLUGIN_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*\.v[0-9]+$")
HEADLINE = ("spearman_cosine", "cosine_spearman", "ndcg_at_10", "main_score", "accuracy", "v_measure", "map")


def _label(name: str, split: str | None, metric: str) -> str:
    base = re.sub(r"\s*\((validation|test|train|dev)\)$", "", name or "?").strip()
    return f"{base} {split or ''} {metric}".replace("  ", " ")


def _short(label: str) -> str:
    """A narrower column header for the text table (--json keeps the full labels)."""
    for old, new in (("STS Benchmark", "STSB"), (" validation ", " val "), ("spearman_cosine", "spearman"),
                     ("cosine_spearman", "spearman"), ("pearson_cosine", "pearson"), ("cosine_pearson", "pearson")):
        label = label.replace(old, new)
    return label


def _card_scores(card: dict) -> list[dict[str, Any]]:
    """Every score of a card's model-index: [{label, dataset, dataset_name, split, metric, value, revision, headline}]."""
    from hubembed import hub

    rows = []
    for r in hub.eval_results(card):
        if isinstance(r.metric_value, bool) or not isinstance(r.metric_value, (int, float)):
            continue
        rows.append({
            "label": _label(r.dataset_name, r.dataset_split, r.metric_type),
            "dataset": r.dataset_type, "dataset_name": r.dataset_name, "split": r.dataset_split,
            "revision": r.dataset_revision, "metric": r.metric_type, "value": float(r.metric_value),
        })
    by_dataset: dict[tuple, list[dict]] = {}
    for row in rows:
        by_dataset.setdefault((row["dataset_name"], row["split"]), []).append(row)
    for group in by_dataset.values():
        chosen = next((r for m in HEADLINE for r in group if r["metric"] == m), group[0])
        for row in group:
            row["headline"] = row is chosen
    return rows


def _model_row(entry: dict) -> dict[str, Any]:
    card = entry.get("cardData") or {}
    tags = card.get("tags") or []
    tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]
    scores = _card_scores(card)
    base = card.get("base_model")
    return {
        "id": entry["id"] + (f"@{entry['revision']}" if entry.get("revision") else ""),
        "sha": entry.get("sha"),
        "base_model": ", ".join(base) if isinstance(base, list) else base,
        "plugins": [t for t in tags if PLUGIN_TAG.match(t)],
        "hubembed": "hubembed" in tags,
        "scores": {s["label"]: round(s["value"], 4) for s in scores},
        "headline": [s["label"] for s in scores if s["headline"]],
        "all_scores": scores,
    }


def _columns(rows: list[dict]) -> list[str]:
    """Headline score columns, STSB test first, then in order of first appearance."""
    seen: list[str] = []
    for row in rows:
        for label in row["headline"]:
            if label not in seen:
                seen.append(label)
    return sorted(seen, key=lambda c: (not c.startswith("STS Benchmark test"), not c.startswith("STS Benchmark"), seen.index(c)))


def _sorted(rows: list[dict], columns: list[str], sort: str | None) -> tuple[list[dict], str | None]:
    every = list(dict.fromkeys([*columns, *(k for r in rows for k in r["scores"])]))
    if sort:
        hits = [c for c in every if sort.lower() in c.lower()]
        if not hits:
            raise ConfigError(f"--sort {sort!r} matches no score; the cards have: {', '.join(every) or 'no scores'}")
        key = next((c for c in hits if c in columns), hits[0])
    else:
        key = columns[0] if columns else None
    if key is None:
        return sorted(rows, key=lambda r: r["id"]), None
    return sorted(rows, key=lambda r: (r["scores"].get(key) is None, -(r["scores"].get(key) or 0.0), r["id"])), key


def _show(rows: list[dict], sort: str | None, as_json: bool, title: str) -> None:
    columns = _columns(rows)
    rows, key = _sorted(rows, columns, sort)
    if key and key not in columns:
        columns = [key, *columns]
    if as_json:
        click.echo(json.dumps({"sorted_by": key, "columns": columns, "models": rows}, indent=2))
        return
    if not rows:
        click.echo(f"{title}: no models found.")
        return
    headers = ["#", "model", *(_short(c) for c in columns), "base model", "plugins"]
    table = [
        [str(i), r["id"], *(f"{r['scores'][c]:.4f}" if c in r["scores"] else "-" for c in columns),
         r["base_model"] or "-", ", ".join(r["plugins"]) or "-"]
        for i, r in enumerate(rows, 1)
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    numeric = set(range(2, 2 + len(columns)))
    click.secho(f"{title}" + (f", sorted by {key}" if key else ""), bold=True)

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric or i == 0 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    click.echo(line(headers))
    click.echo(line(["-" * w for w in widths]))
    for row in table:
        click.echo(line(row))


@click.command()
@click.argument("repos", nargs=-1, required=True, metavar="REPO[@REV]...")
@click.option("--sort", metavar="SCORE", help="Sort by the score whose name contains this (default STS Benchmark test).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@access_options
def compare(repos, sort, as_json, endpoint, token_file, local_hub) -> None:
    """Show the scores in the cards of some models side by side (reads cards only, downloads no weights).

    \b
    Example:
      hubembed compare my-org/minilm-mnr my-org/minilm-softmax sentence-transformers/all-MiniLM-L6-v2
    """
    from hubembed import hub

    with target(endpoint, token_file, local_hub) as where:
        cards = hub.model_cards(list(repos), token=where.token, endpoint=where.endpoint)
    _show([_model_row(c) for c in cards], sort, as_json, f"{len(cards)} model(s)")


@click.command()
@click.option("--author", required=True, metavar="ORG", help="User or organisation whose models to rank.")
@click.option("--all", "include_all", is_flag=True, help="Include models not made with hubembed.")
@click.option("--sort", metavar="SCORE", help="Sort by the score whose name contains this (default STS Benchmark test).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@access_options
def leaderboard(author, include_all, sort, as_json, endpoint, token_file, local_hub) -> None:
    """Rank an organisation's hubembed models by the scores in their cards (Hub API only, no weight downloads).

    \b
    Example:
      hubembed leaderboard --author my-org
      hubembed leaderboard --author my-org --sort SciFact --json
    """
    from hubembed import hub

    with target(endpoint, token_file, local_hub) as where:
        models = hub.list_models_with_cards(author, token=where.token, endpoint=where.endpoint)
    rows = [_model_row(m) for m in models]
    if not include_all:
        rows = [r for r in rows if r["hubembed"]]
    _show(rows, sort, as_json, f"Leaderboard of {author}: {len(rows)} hubembed model(s)")


# -- hub serve -------------------------------------------------------------------------------------------------
@click.group("hub")
def hub_group() -> None:
    """LocalHub: a Hub-compatible test server on 127.0.0.1 (a test double of the Hub, not the Hub)."""


@hub_group.command()
@click.option("--root", type=click.Path(file_okay=False), help="Where repos are kept (default $HUBEMBED_LOCAL_HUB or ~/.cache/hubembed/localhub).")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--org", "orgs", multiple=True, metavar="ORG", help="Organisation the `local` user belongs to (repeatable).")
def serve(root, port, orgs) -> None:
    """Serve LocalHub in the foreground until Ctrl-C; push to it with --endpoint and its token file.

    It implements the part of the Hub API that huggingface_hub uses to push, pull and list models (users,
    organisations, tokens, private repos, LFS, commits, branches, pull requests, cards). It is a test double: no
    Xet storage, no web pages, no rate limits. One user, `local`, whose token is in ROOT/local-token.
    """
    import time

    from hubembed import hub

    folder = Path(root) if root else hub.local_hub_root()
    with hub.local_hub(folder, port=port, orgs=tuple(orgs)) as (server, _token):
        token_file = hub.local_token_file(folder)
        click.secho(f"LocalHub (a test double of the Hugging Face Hub) on {server.endpoint}, repos in {folder}", bold=True)
        click.echo(f"user: {hub.LOCAL_USER} (organisations: {', '.join(orgs) or 'none; add with --org'}); token file: {token_file}")
        click.echo("Use it from another shell:")
        click.echo(f"  export HF_ENDPOINT={server.endpoint} HF_HUB_DISABLE_XET=1")
        click.echo(f"  hubembed push runs/mnr --token-file {shlex.quote(str(token_file))}")
        click.echo(f"  hubembed leaderboard --author {hub.LOCAL_USER} --token-file {shlex.quote(str(token_file))}")
        click.echo("Ctrl-C stops it.")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("LocalHub stopped.", err=True)


__all__ = ["compare", "hub_group", "leaderboard", "pull", "push", "push_options", "push_request", "push_or_explain"]
