"""Push, pull and list models on the Hugging Face Hub: a thin layer over `huggingface_hub.HfApi`.

Every failure the user can fix is raised as `HubError` with one line that says why and what to do; a token never
appears in a message. The endpoint is the `endpoint` argument, else `HF_ENDPOINT` read at call time (not the value
huggingface_hub froze at import), else the public Hub. No torch import here.

Against `hubembed.testing.hub_server.LocalHub` (or any server without Xet storage) the client must use classic LFS
uploads: set `HF_HUB_DISABLE_XET=1` (`LocalHub.client_env()` does it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, constants, get_token, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HFValidationError,
    HfHubHTTPError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects, validate_repo_id

from hubembed.errors import HubError, causes

try:  # huggingface_hub 2.x talks through httpx2; older releases used httpx
    from httpx2 import TransportError as _TransportError
except ImportError:  # pragma: no cover
    from httpx import TransportError as _TransportError  # type: ignore[no-redef]

__all__ = [
    "PUSH_IGNORE_PATTERNS",
    "PUSH_RECORD",
    "PushResult",
    "check_repo_id",
    "is_main_process",
    "last_push",
    "local_hub",
    "model_cards",
    "record_push",
    "split_revision",
    "list_models_with_cards",
    "make_api",
    "pull",
    "read_card",
    "push_folder",
    "resolve_endpoint",
    "resolve_token",
    "validate_card",
    "whoami",
    "write_atomically",
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

_NO_TOKEN = "no Hugging Face token found: pass --token-file, set HF_TOKEN or run `hf auth login`"
_REPO_ID_FIX = "write it as org/name"


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    url: str  # the repo page (…/tree/<revision> for a branch other than main)
    commit_oid: str  # the new commit, or the current head when nothing changed
    revision: str  # the branch pushed to, or refs/pr/N for a pull request
    pr_url: str | None = None
    changed: bool = True  # False when the folder already matched the Hub (no commit was made)


def resolve_token(token_file: str | os.PathLike | None = None) -> str | None:
    """The token: contents of `token_file`, else `HF_TOKEN`, else the one saved by `hf auth login`; None if none."""
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise HubError(f"cannot read the token file {path} ({err.strerror}): check the --token-file path") from None
        if not token:
            raise HubError(f"the token file {path} is empty: put a Hugging Face access token in it")
        return token
    token = (os.environ.get("HF_TOKEN") or "").strip()
    return token or get_token()


def check_repo_id(repo_id: str, fix: str = _REPO_ID_FIX) -> str:
    """`repo_id` if huggingface_hub's own validator accepts it (`org/name`, or a bare name that goes under your
    user); else a HubError that says why, so a bad id fails before any request (or any training)."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        why = str(err).replace("Use `repo_type` argument if needed.", "")  # hubembed has no such flag
        why = why.replace(f": '{repo_id}'", "").strip().rstrip(".")
        raise HubError(f"{repo_id!r} is not a valid repo id ({why}): {fix}") from None
    return repo_id


def resolve_endpoint(endpoint: str | None = None) -> str:
    """`endpoint`, else `HF_ENDPOINT` as set now, else the endpoint huggingface_hub was imported with."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def make_api(token: str | None = None, endpoint: str | None = None) -> HfApi:
    return HfApi(endpoint=resolve_endpoint(endpoint), token=token)


def whoami(api: HfApi) -> str:
    """The user name the api's token belongs to."""
    with _hub_errors("checking the token", api.endpoint, api.token):
        return api.whoami()["name"]


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


def validate_card(text: str, *, repo_type: str = "model", endpoint: str | None = None) -> None:
    """Ask the Hub's `/api/validate-yaml` whether a README's metadata is valid; HubError if not."""
    endpoint = resolve_endpoint(endpoint)
    try:  # ModelCard parses the front matter itself first (repocard.py:95)
        card = ModelCard(text)
    except (yaml.YAMLError, ValueError) as err:
        raise HubError(f"README.md has invalid metadata ({_short(err)}): fix the card's YAML front matter") from None
    with _hub_errors("validating README.md", endpoint, None), _endpoint_override(endpoint):
        try:
            card.validate(repo_type=repo_type)
        except ValueError as err:  # RepoCard.validate raises ValueError(response text) on HTTP 400
            raise HubError(f"README.md has invalid metadata ({_short(err)}): fix the card's YAML front matter") from None


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
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder} is not a folder: pass the output directory of a run")
    if repo_id:
        check_repo_id(repo_id)
    token = token if token is not None else resolve_token(None)
    if not token:
        raise HubError(_NO_TOKEN)
    if create_pr and revision not in (None, constants.DEFAULT_REVISION):
        raise HubError("a pull request is always opened against main: drop --revision, or drop --create-pr")
    endpoint = resolve_endpoint(endpoint)
    card = readme if readme is not None else read_card(folder)
    if card is not None:
        validate_card(card, repo_type=repo_type, endpoint=endpoint)
    api = HfApi(endpoint=endpoint, token=token)
    if not repo_id or "/" not in repo_id:  # a bare name would address a canonical (namespace-less) repo
        repo_id = check_repo_id(f"{whoami(api)}/{repo_id or folder.name}", fix="pass --repo-id org/name")
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
    return PushResult(
        repo_id=repo_id,
        url=url,
        commit_oid=commit.oid,
        revision=commit.pr_revision or branch,
        pr_url=commit.pr_url,
        changed=commit.oid != head,
    )


def read_card(folder: Path) -> str | None:
    """The folder's README.md, or None if it has none."""
    path = folder / "README.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


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


def list_models_with_cards(author: str, *, token: str | None = None, endpoint: str | None = None) -> list[dict]:
    """Models of a user or organisation with their card metadata: [{"id", "sha", "lastModified", "cardData"}]."""
    api = make_api(token, endpoint)
    with _hub_errors(f"listing the models of {author}", api.endpoint, token):
        models = list(api.list_models(author=author, expand=["cardData", "sha", "lastModified"]))
    return [
        {
            "id": m.id,
            "sha": m.sha,
            "lastModified": m.last_modified.isoformat() if m.last_modified else None,
            "cardData": m.card_data.to_dict() if m.card_data is not None else {},
        }
        for m in models
    ]


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


# -- run folders, processes, cards of many repos -----------------------------------------------------------
PUSH_RECORD = ".hubembed/push.json"  # where a run folder remembers its last push (never uploaded: see ignore list)


def is_main_process() -> bool:
    """False on every rank but 0 of a multi-process (accelerate / torchrun) run: only rank 0 pushes."""
    for var in ("RANK", "LOCAL_RANK"):
        value = os.environ.get(var)
        if value not in (None, ""):
            try:
                return int(value) == 0
            except ValueError:
                return True
    return True


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
    try:
        return json.loads((Path(folder) / PUSH_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def split_revision(spec: str) -> tuple[str, str | None]:
    """`org/name@rev` -> ("org/name", "rev"); `org/name` -> ("org/name", None)."""
    repo_id, sep, revision = spec.partition("@")
    if not repo_id or (sep and not revision):
        raise HubError(f"{spec!r} is not a repo id: write it as org/name or org/name@revision")
    return check_repo_id(repo_id), revision or None


def model_cards(specs: list[str], *, token: str | None = None, endpoint: str | None = None) -> list[dict]:
    """Card metadata of each `org/name[@rev]` through the model info API (no file downloads):
    [{"id", "sha", "revision", "lastModified", "cardData"}]."""
    wanted = [(spec, *split_revision(spec)) for spec in specs]  # every id checked before the first request
    api = make_api(token, endpoint)
    out = []
    for spec, repo_id, revision in wanted:
        with _hub_errors(f"reading the card of {spec}", api.endpoint, token):
            info = api.model_info(repo_id, revision=revision)
        out.append({
            "id": info.id,
            "sha": info.sha,
            "revision": revision,
            "lastModified": info.last_modified.isoformat() if info.last_modified else None,
            "cardData": info.card_data.to_dict() if info.card_data is not None else {},
        })
    return out


# -- LocalHub on loopback, for machines without a Hub token (the quickstart) -----------------------------------
LOCAL_USER = "local"
LOCAL_HUB_ENV = "HUBEMBED_LOCAL_HUB"
_LOCAL_TOKEN_FILE = "local-token"


def local_hub_root() -> Path:
    """Where the loopback LocalHub keeps its repos: $HUBEMBED_LOCAL_HUB, else <hubembed cache>/localhub."""
    if os.environ.get(LOCAL_HUB_ENV):
        return Path(os.environ[LOCAL_HUB_ENV]).expanduser()
    from hubembed.pipeline import cache_dir

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
    """Start LocalHub (hubembed.testing.hub_server, a test double of the Hub) on 127.0.0.1 over `root`, with the
    user `local` (member of `orgs`); point this process's huggingface_hub client at it. Yields (server, token)."""
    from hubembed.testing.hub_server import LocalHub

    root = Path(root) if root is not None else local_hub_root()
    token = local_token_file(root).read_text(encoding="utf-8").strip()
    with LocalHub(root, port=port) as server:
        server.ensure_user(LOCAL_USER, token)
        for org in orgs:
            server.join_org(LOCAL_USER, org)
        with server.client_env():
            yield server, token


# -- error mapping -------------------------------------------------------------------------------------------
def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _in_chain(exc: BaseException, kinds: type | tuple) -> BaseException | None:
    return next((e for e in causes(exc) if isinstance(e, kinds)), None)


def _describe(exc: BaseException, action: str, endpoint: str, anonymous: bool = False) -> str | None:
    """One line for a Hub failure, or None when the exception is not a Hub/network problem."""
    if _in_chain(exc, LocalTokenNotFoundError):
        return _NO_TOKEN
    if _in_chain(exc, OfflineModeIsEnabled):
        return f"cannot {action}: HF_HUB_OFFLINE is set: unset it to reach the Hub"
    http = _in_chain(exc, HfHubHTTPError)
    if http is not None and getattr(http, "response", None) is not None:
        return _describe_http(http, action, endpoint, anonymous)
    if "xet-write-token" in str(exc) and "404" in str(exc):  # hf_xet installed, server without Xet (LocalHub)
        return (f"{endpoint} has no Xet storage while {action}: set HF_HUB_DISABLE_XET=1 to upload with classic "
                "Git LFS")
    broke = _network_failure(exc)
    if broke is not None:
        return (f"could not reach {endpoint} (network or server error: {broke}) while {action}: check your "
                "connection and the endpoint (--endpoint or HF_ENDPOINT)")
    if isinstance(exc, ValueError) and "Invalid metadata in README.md" in str(exc):
        return f"README.md has invalid metadata ({_short(exc, 200)}): fix the card's YAML front matter"
    return None


def _describe_http(http: HfHubHTTPError, action: str, endpoint: str, anonymous: bool) -> str:
    status = http.response.status_code
    server = _short(getattr(http, "server_message", None) or "", 200)
    detail = f"HTTP {status}" + (f": {server}" if server else "")
    if isinstance(http, GatedRepoError):  # a RepositoryNotFoundError too, but the repo is there
        return (f"the repo is gated ({detail}) while {action}: accept its conditions on its page on the Hub, "
                "then retry with a token of that account")
    if isinstance(http, RepositoryNotFoundError) and anonymous:  # the Hub answers 401 here, token or no token
        return (f"not found, or private and you are not logged in, while {action} ({detail}): check the repo id, "
                "or log in (--token-file, HF_TOKEN or `hf auth login`) if it is private")
    if isinstance(http, RevisionNotFoundError):
        return f"revision not found while {action} ({detail}): check --revision"
    if isinstance(http, RepositoryNotFoundError) or status == 404:
        return (f"not found while {action} ({detail}): check the repo id, and that your token can see the repo if "
                "it is private")
    if status == 401:
        return f"the Hub rejected the token ({detail}) while {action}: set HF_TOKEN or run `hf auth login`"
    if status == 403:
        return (f"the Hub refused {action} ({detail}): use a token with write access to that namespace, "
                "or push to a repo under your own user name")
    if status in (409, 412):
        return f"the repo changed while {action} ({detail}): someone pushed at the same time; push again"
    if status >= 500 or status in (408, 429):
        return f"could not reach {endpoint} (network or server error: {detail}) while {action}: retry later"
    return f"the Hub rejected {action} ({detail}): check the repo id, the revision and the folder's files"


_LFS_UPLOAD_FAILED = re.compile(r"^Error while uploading '(.+)' to the Hub")
_CLIENT_CLOSED = "Cannot send a request, as the client has been closed"


def _network_failure(exc: BaseException) -> str | None:
    """What broke, when the connection did; None for anything else.

    huggingface_hub wraps a failed LFS upload in RuntimeError("Error while uploading '<file>' to the Hub.")
    (_commit_api.py, _wrapped_lfs_upload). Files upload in parallel, and the first connection error closes the
    shared HTTP client under the others (utils/_http.py, close_session), so the cause that reaches us may be that
    closed client rather than the network error itself."""
    chain = causes(exc)
    transport = _in_chain(exc, (_TransportError, ConnectionError, TimeoutError))
    lost = transport is None and _CLIENT_CLOSED in str(chain[-1])
    if transport is None and not lost:
        return None
    cause = "the connection was lost" if lost else _short(transport, 200)
    upload = next((m for e in chain if isinstance(e, RuntimeError) and (m := _LFS_UPLOAD_FAILED.match(str(e)))), None)
    return f"the upload of {upload.group(1)} broke off: {cause}" if upload else cause


@contextlib.contextmanager
def _hub_errors(action: str, endpoint: str, token: str | None) -> Iterator[None]:
    """Turn Hub and network failures raised in the block into a one-line HubError that never shows the token."""
    try:
        yield
    except HubError:
        raise
    except Exception as exc:
        message = _describe(exc, action, endpoint, anonymous=not token)
        if message is None:
            raise
        if token:
            message = message.replace(token, "<token>")
        raise HubError(message) from exc
