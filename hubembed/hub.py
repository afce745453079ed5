"""Every call hubembed makes to the Hugging Face Hub: a thin layer over `huggingface_hub`, and the one module that
imports it for the network (push, pull, list, cards of many repos, base-model revisions, reachability probes).

Every failure the user can fix is raised as a `HubError` subclass (errors.py: auth, not found, permission,
conflict, unreachable) with one line that says why and what to do, the HTTP status as `status` and the library's
exception as `__cause__`; `hub_error` is the one mapping. A token never appears in a message. The endpoint is the
`endpoint` argument, else `HF_ENDPOINT` read at call time (not the value huggingface_hub froze at import), else the
public Hub; downloads that take no endpoint use `download_endpoint()`. No torch import here.

Against `hubembed.localhub.LocalHub` (or any server without Xet storage) the client must use classic LFS
uploads: set `HF_HUB_DISABLE_XET=1` (`LocalHub.client_env()` does it).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import yaml
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    ModelCard,
    constants,
    get_token,
    snapshot_download,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    GatedRepoError,
    HFValidationError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.repocard_data import model_index_to_eval_results
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects, validate_repo_id

from hubembed.errors import (
    HubAuthError,
    HubConflictError,
    HubError,
    HubNotFoundError,
    HubPermissionError,
    HubUnreachableError,
    causes,
)

__all__ = [
    "LOCAL_USER", "NO_TOKEN", "PR_AGAINST_MAIN", "PUSH_IGNORE_PATTERNS", "PUSH_RECORD", "PushResult", "answers",
    "cache_folders", "cached_revision", "check_folder", "check_pr_revision", "check_repo_id",
    "clear_probe_cache", "default_repo_id", "download_endpoint", "eval_results", "front_matter", "hub_error",
    "last_push", "list_models_with_cards", "local_hub", "local_hub_root", "local_token_file", "make_api",
    "model_cards", "model_revision", "offline", "pull", "push_folder", "read_card", "record_push",
    "require_token", "resolve_endpoint", "resolve_token", "split_revision", "token_source", "unreachable",
    "validate_card", "whoami", "write_atomically",
]

# Never uploaded from a run folder: trainer checkpoints, half-written outputs and local caches.
PUSH_IGNORE_PATTERNS = [
    "checkpoints/",
    "checkpoint-*/",
    "*.partial",
    "*.partial/",
    ".hubembed/",
    "__pycache__/",
    "*/__pycache__/",
]

NO_TOKEN = "no Hugging Face token found: pass --token-file, set HF_TOKEN or run `hf auth login`"
PR_AGAINST_MAIN = "a pull request is always opened against main: drop --revision, or drop --create-pr"
_REPO_ID_FIX = "write it as org/name"


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    url: str  # the repo page (…/tree/<revision> for a branch other than main)
    commit_oid: str  # the new commit, or the current head when nothing changed
    revision: str  # the branch pushed to, or refs/pr/N for a pull request
    pr_url: str | None = None
    changed: bool = True  # False when the folder already matched the Hub (no commit was made)


# -- tokens ----------------------------------------------------------------------------------------------------
def resolve_token(token_file: str | os.PathLike | None = None) -> str | None:
    """The token: contents of `token_file`, else `HF_TOKEN`, else the one saved by `hf auth login`; None if none."""
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise HubAuthError(f"cannot read the token file {path} ({err.strerror}): check the --token-file path") from err
        if not token:
            raise HubAuthError(f"the token file {path} is empty: put a Hugging Face access token in it")
        return token
    token = (os.environ.get("HF_TOKEN") or "").strip()
    return token or get_token()


def require_token(token: str | None) -> str:
    """`token`, or HubAuthError when there is none (before any request is made)."""
    if not token:
        raise HubAuthError(NO_TOKEN)
    return token


def token_source() -> str | None:
    """Where resolve_token(None) finds a token, never its value: "HF_TOKEN", "saved login (<path>)", or None."""
    if os.environ.get("HF_TOKEN", "").strip():
        return "HF_TOKEN"
    return f"saved login ({constants.HF_TOKEN_PATH})" if get_token() else None


# -- repo ids and revisions ------------------------------------------------------------------------------------
def check_repo_id(repo_id: str, fix: str = _REPO_ID_FIX) -> str:
    """`repo_id` if huggingface_hub's own validator accepts it (`org/name`, or a bare name that goes under your
    user); else a HubError that says why, so a bad id fails before any request (or any training)."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        why = str(err).replace("Use `repo_type` argument if needed.", "")  # hubembed has no such flag
        why = why.replace(f": '{repo_id}'", "").strip().rstrip(".")
        raise HubError(f"{repo_id!r} is not a valid repo id ({why}): {fix}") from err
    return repo_id


def split_revision(spec: str) -> tuple[str, str | None]:
    """`org/name@rev` -> ("org/name", "rev"); `org/name` -> ("org/name", None)."""
    repo_id, sep, revision = spec.partition("@")
    if not repo_id or (sep and not revision):
        raise HubError(f"{spec!r} is not a repo id: write it as org/name or org/name@revision")
    return check_repo_id(repo_id), revision or None


def default_repo_id(repo_id: str | None, name: str, *, token: str | None, endpoint: str | None = None) -> str:
    """Where a folder named `name` is pushed: `repo_id` when it names its namespace, else `<user>/<repo_id or
    name>` with the token's user (a bare name would address a canonical, namespace-less repo)."""
    if repo_id and "/" in repo_id:
        return repo_id
    user = whoami(make_api(token, endpoint))
    return check_repo_id(f"{user}/{repo_id or name}", fix="pass --repo-id org/name")


def check_pr_revision(create_pr: bool, revision: str | None, error: Callable[[str], Exception] = HubError) -> None:
    """A pull request is always opened against main: --create-pr with another --revision raises `error` (the CLI
    passes ConfigError, to refuse the flags before training)."""
    if create_pr and revision not in (None, constants.DEFAULT_REVISION):
        raise error(PR_AGAINST_MAIN)


# -- endpoints and reachability --------------------------------------------------------------------------------
def resolve_endpoint(endpoint: str | None = None) -> str:
    """`endpoint`, else `HF_ENDPOINT` as set now, else the endpoint huggingface_hub was imported with."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def download_endpoint() -> str:
    """The endpoint of downloads that take none (sentence-transformers, datasets, mteb's loaders): the one
    huggingface_hub read from HF_ENDPOINT at import."""
    return constants.ENDPOINT.rstrip("/")


def make_api(token: str | None = None, endpoint: str | None = None) -> HfApi:
    return HfApi(endpoint=resolve_endpoint(endpoint), token=token)


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as huggingface_hub read it at import: what its client obeys."""
    return constants.is_offline_mode()


def unreachable(endpoint: str | None = None, timeout: float = 3.0) -> str | None:
    """Why the Hub cannot be used now, or None: "HF_HUB_OFFLINE is set", or the host and the error of one short
    connect to `endpoint` (default download_endpoint()). Probed once per endpoint and process, because the datasets
    library and mteb retry an unreachable Hub for ~25 s per call before they give up."""
    if offline():
        return "HF_HUB_OFFLINE is set"
    return _probe(endpoint or download_endpoint(), timeout)


@functools.lru_cache(maxsize=16)
def _probe(endpoint: str, timeout: float) -> str | None:
    url = urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return None
    except OSError as err:
        return f"{url.hostname}: {err.strerror or err}"


def clear_probe_cache() -> None:
    """Forget what unreachable() found (for tests that change the network, or a process that outlives it)."""
    _probe.cache_clear()


def whoami(api: HfApi) -> str:
    """The user name the api's token belongs to."""
    with _hub_errors("checking the token", api.endpoint, api.token):
        return api.whoami()["name"]


def answers(token: str | None, endpoint: str | None = None) -> str:
    """What the endpoint says to `token`: "token of user NAME", or without a token "answers anonymous requests";
    a HubError subclass when it does not answer."""
    api = make_api(token, endpoint)
    if token:
        return f"token of user {whoami(api)}"
    with _hub_errors("listing models", api.endpoint, None):
        next(iter(api.list_models(limit=1)), None)
    return "answers anonymous requests"


def cache_folders() -> dict[str, str]:
    """Where huggingface_hub and datasets keep what they download."""
    return {
        "huggingface_hub": str(constants.HF_HUB_CACHE),
        "datasets": os.environ.get("HF_DATASETS_CACHE") or str(Path(constants.HF_HOME) / "datasets"),
    }


# -- cards -----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _endpoint_override(endpoint: str) -> Iterator[None]:
    """Make code that reads the *global* endpoint use `endpoint` for the duration of the block.

    `RepoCard.validate` posts to `constants.ENDPOINT` (huggingface_hub/repocard.py:218), a value computed from
    HF_ENDPOINT once, at import (constants.py:69); it takes no endpoint argument. So setting HF_ENDPOINT later, or
    passing HfApi(endpoint=...), does not reach it (`RepoCard.push_to_hub` is worse: it uploads through the
    module-level `HfApi()` built at import, hf_api.py:15505). We patch the constant (and the env, for any
    subprocess or later import) and restore both afterwards. Not thread-safe: keep such calls on one thread.
    (The check inside `HfApi.create_commit` does use `HfApi.endpoint`, hf_api.py:11703, so uploads need no patch.)
    """
    saved_env, saved_const = os.environ.get("HF_ENDPOINT"), constants.ENDPOINT
    os.environ["HF_ENDPOINT"] = constants.ENDPOINT = endpoint
    try:
        yield
    finally:
        constants.ENDPOINT = saved_const
        if saved_env is None:
            os.environ.pop("HF_ENDPOINT", None)
        else:
            os.environ["HF_ENDPOINT"] = saved_env


def _invalid_card(err: BaseException) -> HubError:
    return HubError(f"README.md has invalid metadata ({_short(err)}): fix the card's YAML front matter")


def validate_card(text: str, *, repo_type: str = "model", endpoint: str | None = None) -> None:
    """Ask the Hub's `/api/validate-yaml` whether a README's metadata is valid; HubError if not."""
    endpoint = resolve_endpoint(endpoint)
    try:  # ModelCard parses the front matter itself first (repocard.py:95)
        card = ModelCard(text)
    except (yaml.YAMLError, ValueError) as err:
        raise _invalid_card(err) from err
    with _hub_errors("validating README.md", endpoint, None), _endpoint_override(endpoint):
        try:
            card.validate(repo_type=repo_type)
        except ValueError as err:  # RepoCard.validate raises ValueError(response text) on HTTP 400
            raise _invalid_card(err) from err


def read_card(folder: Path) -> str | None:
    """The folder's README.md, or None if it has none."""
    path = folder / "README.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def front_matter(text: str) -> dict:
    """A card's metadata as a dict; {} for a card whose front matter cannot be read (it then just shows no
    scores: a broken card of someone else's is no reason to fail)."""
    try:
        return ModelCard(text, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # noqa: BLE001 - see the docstring: any parse failure means "no metadata"
        return {}


def eval_results(card: dict) -> list:
    """The huggingface_hub EvalResults of a card's model-index; [] when it has none, or one that is malformed (a
    card written by hand: no scores to show, nothing to fix here)."""
    if not card.get("model-index"):
        return []
    try:
        return model_index_to_eval_results(card["model-index"])[1]
    except (KeyError, TypeError, ValueError, AttributeError):  # malformed model-index: see the docstring
        return []


# -- push ------------------------------------------------------------------------------------------------------
def check_folder(folder: str | os.PathLike) -> Path:
    """`folder` as a Path, if it is a folder; else the HubError of a push from a wrong path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder} is not a folder: pass the output directory of a run")
    return folder


def push_folder(
    folder: str | os.PathLike,
    repo_id: str | None = None,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    revision: str | None = None,
    create_pr: bool = False,
    commit_message: str | None = None,
    repo_type: str = "model",
    readme: str | None = None,
) -> PushResult:
    """Upload a folder to `repo_id` (default `<user>/<folder name>`; a bare name goes under `<user>/`), creating
    the repo and branch if needed. `readme` is pushed as README.md instead of the folder's own, which is neither
    read nor changed (a card rendered for the repo, kept in memory until the push worked).

    Re-pushing an unchanged folder makes no commit (`changed=False`). The card is validated first, so a bad card
    fails before anything is created.
    """
    folder = check_folder(folder)
    if repo_id:
        check_repo_id(repo_id)
    token = require_token(token if token is not None else resolve_token(None))
    check_pr_revision(create_pr, revision)
    endpoint = resolve_endpoint(endpoint)
    card = readme if readme is not None else read_card(folder)
    if card is not None:
        validate_card(card, repo_type=repo_type, endpoint=endpoint)
    repo_id = default_repo_id(repo_id, folder.name, token=token, endpoint=endpoint)
    api = HfApi(endpoint=endpoint, token=token)
    branch = revision or constants.DEFAULT_REVISION
    with _hub_errors(f"pushing {folder} to {repo_id}", endpoint, token):
        repo_url = str(api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True))
        if branch != constants.DEFAULT_REVISION:
            api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
        head = api.repo_info(repo_id, repo_type=repo_type, revision=branch).sha
        commit = api.create_commit(
            repo_id,
            operations=_additions(folder, readme),
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            commit_message=commit_message or f"Upload {folder.name} with hubembed",
        )
    url = repo_url if branch == constants.DEFAULT_REVISION else f"{repo_url}/tree/{branch}"
    return PushResult(repo_id=repo_id, url=url, commit_oid=commit.oid, revision=commit.pr_revision or branch,
                      pr_url=commit.pr_url, changed=commit.oid != head)


def _additions(folder: Path, readme: str | None) -> list[CommitOperationAdd]:
    """The files of `folder` that upload_folder would add (less PUSH_IGNORE_PATTERNS), with README.md from `readme`
    when given."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.glob("**/*") if p.is_file())
    kept = filter_repo_objects(files, ignore_patterns=[*PUSH_IGNORE_PATTERNS, *DEFAULT_IGNORE_PATTERNS])
    adds = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=folder / f) for f in kept
            if readme is None or f != "README.md"]
    if readme is not None:
        adds.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=readme.encode("utf-8")))
    return adds


# -- cards of many repos ---------------------------------------------------------------------------------------
def _card_row(info: Any, **extra: Any) -> dict:
    """{"id", "sha", [extra], "lastModified", "cardData"} of a ModelInfo (from list_models or model_info)."""
    return {
        "id": info.id,
        "sha": info.sha,
        **extra,
        "lastModified": info.last_modified.isoformat() if info.last_modified else None,
        "cardData": info.card_data.to_dict() if info.card_data is not None else {},
    }


def list_models_with_cards(author: str, *, token: str | None = None, endpoint: str | None = None) -> list[dict]:
    """Models of a user or organisation with their card metadata: [{"id", "sha", "lastModified", "cardData"}]."""
    api = make_api(token, endpoint)
    with _hub_errors(f"listing the models of {author}", api.endpoint, token):
        models = list(api.list_models(author=author, expand=["cardData", "sha", "lastModified"]))
    return [_card_row(m) for m in models]


def model_cards(specs: list[str], *, token: str | None = None, endpoint: str | None = None) -> list[dict]:
    """Card metadata of each `org/name[@rev]` through the model info API (no file downloads):
    [{"id", "sha", "revision", "lastModified", "cardData"}]."""
    wanted = [(spec, *split_revision(spec)) for spec in specs]  # every id checked before the first request
    api = make_api(token, endpoint)
    out = []
    for spec, repo_id, revision in wanted:
        with _hub_errors(f"reading the card of {spec}", api.endpoint, token):
            info = api.model_info(repo_id, revision=revision)
        out.append(_card_row(info, revision=revision))
    return out


# -- downloads -------------------------------------------------------------------------------------------------
def pull(
    repo_id: str,
    *,
    output_dir: str | os.PathLike,
    revision: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    repo_type: str = "model",
) -> Path:
    """Download a repo snapshot into `output_dir` and return that folder."""
    endpoint = resolve_endpoint(endpoint)
    with _hub_errors(f"downloading {repo_id}", endpoint, token):
        path = snapshot_download(
            repo_id,
            repo_type=repo_type,
            revision=revision,
            local_dir=output_dir,
            token=token,
            endpoint=endpoint,
        )
    return Path(path)


def model_revision(repo_id: str, *, timeout: float = 10) -> str:
    """The commit a model repo's main points to, on download_endpoint() (where the model is then loaded from),
    with the token resolve_token finds."""
    endpoint, token = download_endpoint(), resolve_token(None)
    api = HfApi(endpoint=endpoint, token=token)
    with _hub_errors(f"reading {repo_id}", endpoint, token):
        return api.model_info(repo_id, timeout=timeout).sha


def cached_revision(repo_id: str, filename: str = "modules.json") -> str | None:
    """The commit whose `filename` of `repo_id` is in the local Hugging Face cache, or None; no request is made.
    An invalid repo id raises huggingface_hub's HFValidationError (a ValueError)."""
    cached = try_to_load_from_cache(repo_id, filename)
    return Path(cached).parent.name if isinstance(cached, str) else None  # snapshots/<commit>/<filename>


# -- run folders -----------------------------------------------------------------------------------------------
PUSH_RECORD = ".hubembed/push.json"  # where a run folder remembers its last push (never uploaded: see ignore list)


def record_push(folder: str | os.PathLike, result: PushResult, endpoint: str) -> None:
    """Remember where a run folder was pushed (repo id for its card's usage snippet; no token, ever)."""
    path = Path(folder) / PUSH_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"repo_id": result.repo_id, "revision": result.revision, "commit": result.commit_oid,
              "url": result.url, "endpoint": endpoint}
    write_atomically(path, json.dumps(record, indent=2) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: a crash leaves the old file or the new one, never half of either."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def last_push(folder: str | os.PathLike) -> dict | None:
    """The folder's push record, or None when it was never pushed (or the record is unreadable: then the card
    names no repo, as before its first push)."""
    try:
        return json.loads((Path(folder) / PUSH_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no record, or not JSON: see the docstring
        return None


# -- LocalHub on loopback, for machines without a Hub token (the quickstart) -----------------------------------
LOCAL_USER = "local"
LOCAL_HUB_ENV = "HUBEMBED_LOCAL_HUB"
_LOCAL_TOKEN_FILE = "local-token"


def local_hub_root() -> Path:
    """Where the loopback LocalHub keeps its repos: $HUBEMBED_LOCAL_HUB, else <hubembed cache>/localhub."""
    if os.environ.get(LOCAL_HUB_ENV):
        return Path(os.environ[LOCAL_HUB_ENV]).expanduser()
    from hubembed.config import cache_dir

    return cache_dir() / "localhub"


def local_token_file(root: str | os.PathLike) -> Path:
    """The file holding the local user's token (created on first use, mode 0600); pass it as --token-file."""
    path = Path(root) / _LOCAL_TOKEN_FILE
    if not path.is_file():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"hf_local_{secrets.token_hex(16)}\n")
    return path


@contextlib.contextmanager
def local_hub(root: str | os.PathLike | None = None, port: int = 0, orgs: tuple[str, ...] = ()) -> Iterator[tuple]:
    """Start LocalHub (hubembed.localhub, a test double of the Hub) on 127.0.0.1 over `root`, with the user
    `local` (member of `orgs`); point this process's huggingface_hub client at it. Yields (server, token)."""
    from hubembed.localhub import LocalHub

    root = Path(root) if root is not None else local_hub_root()
    token = local_token_file(root).read_text(encoding="utf-8").strip()
    with LocalHub(root, port=port) as server:
        server.ensure_user(LOCAL_USER, token)
        for org in orgs:
            server.join_org(LOCAL_USER, org)
        with server.client_env():
            yield server, token


# -- error mapping -------------------------------------------------------------------------------------------
def hub_error(exc: BaseException, action: str, endpoint: str, token: str | None = None) -> HubError | None:
    """The typed one-line HubError for a Hub or network failure, with `exc` as its __cause__; None when `exc` is
    neither. `action` ends the "while ..." of the message ("pushing runs/x to org/name"); `token` never shows."""
    if isinstance(exc, HubError):
        return exc
    found = _classify(exc, action, endpoint, anonymous=not token)
    if found is None:
        return None
    kind, message, status = found
    if token:
        message = message.replace(token, "<token>")
    err = kind(message, status)
    err.__cause__ = exc
    return err


@contextlib.contextmanager
def _hub_errors(action: str, endpoint: str, token: str | None) -> Iterator[None]:
    """Turn Hub and network failures raised in the block into hub_error's HubError; anything else goes on."""
    try:
        yield
    except HubError:
        raise
    except Exception as exc:
        err = hub_error(exc, action, endpoint, token)
        if err is None:
            raise
        raise err from exc


def _short(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _in_chain(exc: BaseException, kinds: type | tuple) -> BaseException | None:
    return next((e for e in causes(exc) if isinstance(e, kinds)), None)


def _http_error(exc: BaseException) -> BaseException | None:
    """The first exception in the chain that carries an HTTP response (huggingface_hub's HfHubHTTPError, or an
    HTTPError of requests or httpx raised by a library underneath)."""
    return next((e for e in causes(exc) if isinstance(getattr(getattr(e, "response", None), "status_code", None), int)),
                None)


_Found = tuple[type[HubError], str, int | None]  # (the error class, its one line, the HTTP status)


def _classify(exc: BaseException, action: str, endpoint: str, anonymous: bool) -> _Found | None:
    """(error class, one line, HTTP status) for a Hub failure, or None when the exception is not a Hub/network
    problem."""
    if _in_chain(exc, LocalTokenNotFoundError):
        return HubAuthError, NO_TOKEN, None
    if _in_chain(exc, OfflineModeIsEnabled):
        return HubUnreachableError, (f"HF_HUB_OFFLINE is set, so huggingface_hub makes no request (not even to LocalHub on "
                                     f"127.0.0.1) while {action}: unset it"), None
    http = _http_error(exc)
    if http is not None:
        return _classify_http(http, action, endpoint, anonymous)
    if "xet-write-token" in str(exc) and "404" in str(exc):  # hf_xet installed, server without Xet (LocalHub)
        return HubError, (f"{endpoint} has no Xet storage while {action}: set HF_HUB_DISABLE_XET=1 to upload with "
                          "classic Git LFS"), None
    broke = _network_failure(exc)
    if broke is not None:
        return HubUnreachableError, (f"could not reach {endpoint} (network or server error: {broke}) while {action}: "
                                     "check your connection and the endpoint (--endpoint or HF_ENDPOINT)"), None
    if isinstance(exc, ValueError) and "Invalid metadata in README.md" in str(exc):
        return HubError, f"README.md has invalid metadata ({_short(exc, 200)}): fix the card's YAML front matter", None
    return None


def _classify_http(http: BaseException, action: str, endpoint: str, anonymous: bool) -> _Found:
    status = http.response.status_code  # type: ignore[attr-defined]
    server = _short(getattr(http, "server_message", None) or "", 200)
    detail = f"HTTP {status}" + (f": {server}" if server else "")
    if isinstance(http, GatedRepoError):  # a RepositoryNotFoundError too, but the repo is there
        return HubPermissionError, (f"the repo is gated ({detail}) while {action}: accept its conditions on its page "
                                    "on the Hub, then retry with a token of that account"), status
    if isinstance(http, RepositoryNotFoundError) and anonymous:  # the Hub answers 401 here, token or no token
        return HubNotFoundError, (f"not found, or private and you are not logged in, while {action} ({detail}): check "
                                  "the repo id, or log in (--token-file, HF_TOKEN or `hf auth login`) if it is "
                                  "private"), status
    if isinstance(http, RevisionNotFoundError):
        return HubNotFoundError, f"revision not found while {action} ({detail}): check --revision", status
    if isinstance(http, RepositoryNotFoundError) or status == 404:
        return HubNotFoundError, (f"not found while {action} ({detail}): check the repo id, and that your token can "
                                  "see the repo if it is private"), status
    if status == 401:
        return HubAuthError, (f"the Hub rejected the token ({detail}) while {action}: set HF_TOKEN or run "
                              "`hf auth login` (or fix the file given to --token-file)"), status
    if status == 403:
        return HubPermissionError, (f"the Hub refused {action} ({detail}): use a token with write access to that "
                                    "namespace, or push to a repo under your own user name"), status
    if status in (409, 412):
        return HubConflictError, (f"the repo changed while {action} ({detail}): someone pushed at the same time; "
                                  "push again"), status
    if status >= 500 or status in (408, 429):
        return HubUnreachableError, (f"could not reach {endpoint} (network or server error: {detail}) while {action}: "
                                     "retry later"), status
    return HubError, (f"the Hub rejected {action} ({detail}): check the repo id, the revision and the folder's "
                      "files"), status


_LFS_UPLOAD_FAILED = re.compile(r"^Error while uploading '(.+)' to the Hub")
_CLIENT_CLOSED = "Cannot send a request, as the client has been closed"


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection failures of the stdlib and of the HTTP clients loaded now (huggingface_hub 2.x talks through
    httpx2, older releases through httpx, datasets' helpers through requests): one not loaded raised nothing."""
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                          ("requests", ("ConnectionError", "Timeout"))):
        loaded = sys.modules.get(module)
        kinds += [getattr(loaded, n) for n in names if loaded is not None and isinstance(getattr(loaded, n, None), type)]
    return tuple(kinds)


def _network_failure(exc: BaseException) -> str | None:
    """What broke, when the connection did; None for anything else.

    huggingface_hub wraps a failed LFS upload in RuntimeError("Error while uploading '<file>' to the Hub.")
    (_commit_api.py, _wrapped_lfs_upload). Files upload in parallel, and the first connection error closes the
    shared HTTP client under the others (utils/_http.py, close_session), so the cause that reaches us may be that
    closed client rather than the network error itself."""
    chain = causes(exc)
    transport = _in_chain(exc, _transport_errors())
    lost = transport is None and _CLIENT_CLOSED in str(chain[-1])
    if transport is None and not lost:
        return None
    cause = "the connection was lost" if lost else _short(transport, 200)
    upload = next((m for e in chain if isinstance(e, RuntimeError) and (m := _LFS_UPLOAD_FAILED.match(str(e)))), None)
    return f"the upload of {upload.group(1)} broke off: {cause}" if upload else cause
