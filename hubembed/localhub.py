"""LocalHub: a Hugging Face Hub-compatible HTTP server on 127.0.0.1 (stdlib + PyYAML only), behind
`hubembed hub serve` and `--local-hub`, and the Hub of tests (`hubembed.testing.LocalHub` is this class).
Imports nothing from hubembed, so any layer may use it.

This is an honest *test double* of the Hub, not a Hub: it implements the subset of the Hub HTTP API that the
unmodified ``huggingface_hub`` (2.4) client uses to create repos, push commits (regular files and classic Git LFS)
and read them back (``model_info``, ``list_models``, ``list_repo_tree``, ``hf_hub_download``,
``snapshot_download``, ``SentenceTransformer(repo_id)``). It keeps real state on disk: users, organisations,
tokens, public/private model and dataset repos, commit history with parents, branches, pull-request refs
(``refs/pr/N``) and a content-addressed blob store. It does *not* implement Xet storage, tags, discussions,
gating, Spaces, rate limits or the Hub's card schema checks (``/api/validate-yaml`` only checks that the front
matter is valid YAML and a mapping). Like the Hub, it answers an anonymous request for a missing or private repo with
401 (it cannot tell which) and a logged-in one with 404; huggingface_hub raises RepositoryNotFoundError for both.

Client set-up (read by huggingface_hub at import time, so patch the constants too; ``LocalHub.client_env()``
does all of it and restores it afterwards):

- ``HF_HUB_DISABLE_XET=1`` / ``huggingface_hub.constants.HF_HUB_DISABLE_XET = True``: with ``hf_xet`` installed
  the client uploads through Xet, which LocalHub answers with a 404 that says so.
- ``HfApi(endpoint=hub.endpoint)`` for API calls; for ``hf_hub_download`` / ``snapshot_download`` /
  ``SentenceTransformer`` without an ``endpoint`` argument set ``HF_ENDPOINT`` *and*
  ``constants.ENDPOINT`` + ``constants.HUGGINGFACE_CO_URL_TEMPLATE``.

Example::

    with LocalHub() as hub:
        hub.add_user("alice", "hf_alice", orgs=["acme"])
        with hub.client_env():
            HfApi(endpoint=hub.endpoint, token="hf_alice").create_repo("acme/tiny")

Two LocalHub instances on the same ``root`` share users, repos and blobs (every request is a transaction under a
file lock on ``root/.lock``). ``fail_next`` injects HTTP failures, ``vanish_on`` a server that goes away in the
middle of a request; ``requests`` records (method, path) pairs.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qs, quote, unquote, urlsplit

import yaml

try:  # cross-instance locking (same root); threads of one instance use a threading lock as well
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["LocalHub"]

LFS_THRESHOLD = 10 * 1024 * 1024  # files this size or larger go through LFS, like on the Hub
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.gz", "*.h5", "*.joblib", "*.model", "*.msgpack",
        "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth",
        "*.safetensors", "*.tar", "*.tflite", "*.zip", "*.zst", "*tfevents*",
    )
)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_PR_RE = re.compile(r"refs/pr/(\d+)")
_SEG = r"[^/]+"
_REPO = rf"/api/(?P<t>models|datasets)/(?P<ns>{_SEG})/(?P<name>{_SEG})"
_GIT_REPO = rf"/(?:(?P<t>datasets)/)?(?P<ns>{_SEG})/(?P<name>{_SEG})"


class _Reply(Exception):
    """An HTTP error answer: raised by handlers, sent by the dispatcher."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None,
                 payload: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}
        self.payload = payload if payload is not None else {"error": message}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _looks_binary(sample: bytes) -> bool:
    """Whether a file's first bytes are not UTF-8 text (a multi-byte character cut at the end still counts as text)."""
    if b"\0" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.reason != "unexpected end of data"
    return False


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def parse_front_matter(text: str) -> tuple[dict | None, str | None]:
    """(metadata, error) of a README's YAML front matter: (None, None) when it has none."""
    text = text.lstrip("\ufeff")
    match = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|$)", text, re.DOTALL)
    if match is None:
        if re.match(r"^---[ \t]*\r?\n", text):
            return None, "YAML front matter is not closed by a '---' line"
        return None, None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return None, f"Invalid YAML in README.md front matter: {' '.join(str(err).split())}"
    if data is None:
        return None, None
    if not isinstance(data, dict):
        return None, f"README.md metadata must be a YAML mapping, got {type(data).__name__}"
    return data, None


def _forget_cached_clients() -> None:
    """transformers keeps one HfApi for the process (made on first use, endpoint fixed then): drop it so the next
    use makes one for the current endpoint. Without this, a model loaded after an earlier server stopped waits
    ~45 s in retries against the dead port."""
    hub_utils = sys.modules.get("transformers.utils.hub")
    if hub_utils is not None and hasattr(hub_utils, "_hf_api"):
        hub_utils._hf_api = None


class LocalHub:
    """A Hub-compatible server on 127.0.0.1; a context manager (or call start()/stop())."""

    def __init__(self, root: Path | str | None = None, port: int = 0):
        self._tmp = tempfile.TemporaryDirectory(prefix="localhub-") if root is None else None
        self.root = Path(root if root is not None else self._tmp.name)  # type: ignore[union-attr]
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.port = port
        self.endpoint = ""
        self.requests: list[tuple[str, str]] = []
        self._failures: list[list] = []
        self._vanish_rule: tuple[str, str] | None = None
        self.gone = threading.Event()  # set once the server went away (vanish_on)
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        with self._state(write=True):
            pass  # creates state.json (and the upload-signing secret) on a fresh root

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> LocalHub:
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
            self._server.daemon_threads = True
            self._server.hub = self  # type: ignore[attr-defined]
            self.port = self._server.server_address[1]
            self.endpoint = f"http://127.0.0.1:{self.port}"
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="LocalHub", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test set-up ---------------------------------------------------------------------------------------
    def add_user(self, name: str, token: str, orgs: Sequence[str] = ()) -> None:
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"invalid user name {name!r}")
        with self._state(write=True) as st:
            for other, user in st["users"].items():
                if user["token"] == token and other != name:
                    raise ValueError(f"token already belongs to user {other!r}")
            st["users"][name] = {"token": token, "orgs": list(orgs)}

    def ensure_user(self, name: str, token: str) -> None:
        """Create user `name` with `token`, or give an existing one that token; its organisations are kept."""
        with self._state(write=False) as st:
            orgs = list(st["users"].get(name, {}).get("orgs", []))
        self.add_user(name, token, orgs=orgs)

    def join_org(self, name: str, org: str) -> None:
        """Make user `name` a member of organisation `org` (organisations exist as soon as someone belongs to one)."""
        if not _NAME_RE.fullmatch(org):
            raise ValueError(f"invalid organisation name {org!r}")
        with self._state(write=True) as st:
            if name not in st["users"]:
                raise ValueError(f"no user {name!r}")
            if org != name and org not in st["users"][name]["orgs"]:
                st["users"][name]["orgs"].append(org)

    def fail_next(self, method: str, path_contains: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` requests whose method and path match with `status` (before any handling)."""
        with self._lock:
            self._failures.append([method.upper(), path_contains, status, times])

    def clear_faults(self) -> None:
        """Forget the failures fail_next and vanish_on armed and no request has met yet."""
        with self._lock:
            self._failures.clear()
            self._vanish_rule = None

    def vanish_on(self, method: str, path_contains: str) -> None:
        """Go away during the next request whose method and path match: read half its body, then drop it and every
        open connection unanswered and stop listening, as a crashed server or a lost network would (the client's
        retries then find the port closed). A LocalHub that went away stays away."""
        with self._lock:
            self._vanish_rule = (method.upper(), path_contains)

    def _take_vanish(self, method: str, path: str) -> bool:
        with self._lock:
            rule, hit = self._vanish_rule, False
            if rule is not None and rule[0] == method and rule[1] in path:
                self._vanish_rule, hit = None, True
        return hit

    def _go_away(self) -> None:
        self.gone.set()
        server = self._server
        if server is not None:  # shutdown() waits for serve_forever: not from a request's thread
            threading.Thread(target=lambda: (server.shutdown(), server.server_close()), daemon=True).start()

    @contextlib.contextmanager
    def client_env(self) -> Iterator[None]:
        """Point the Hub clients of this process at this server: env, huggingface_hub's import-time constants, and
        the HfApi instances libraries made earlier with whatever endpoint was current then."""
        from huggingface_hub import constants, hf_api

        saved_env = {k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_HUB_DISABLE_XET")}
        names = ("ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE", "HF_HUB_DISABLE_XET")
        saved = {n: getattr(constants, n) for n in names}
        saved_api_endpoint = hf_api.api.endpoint  # behind `huggingface_hub.list_repo_files` & co.
        os.environ.update(HF_ENDPOINT=self.endpoint, HF_HUB_DISABLE_XET="1")
        constants.ENDPOINT = hf_api.api.endpoint = self.endpoint
        constants.HUGGINGFACE_CO_URL_TEMPLATE = self.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        constants.HF_HUB_DISABLE_XET = True
        _forget_cached_clients()
        try:
            yield
        finally:
            hf_api.api.endpoint = saved_api_endpoint
            for name, value in saved.items():
                setattr(constants, name, value)
            for key, env_value in saved_env.items():
                if env_value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = env_value
            _forget_cached_clients()

    # -- storage -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _state(self, write: bool) -> Iterator[dict]:
        """One transaction: load state.json under the locks, save it on success; a handler that raises drops it."""
        with self._lock, open(self.root / ".lock", "a") as lock_file:
            if fcntl is not None:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
            path = self.root / "state.json"
            st = json.loads(path.read_text()) if path.exists() else {}
            st.setdefault("secret", secrets.token_hex(16))
            st.setdefault("users", {})
            st.setdefault("repos", {})
            yield st
            if write or not path.exists():
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(st))
                os.replace(tmp, path)

    def _blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256

    def _put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self._blob_path(sha)
        if not path.exists():
            tmp = path.with_name(f"{sha}.{secrets.token_hex(4)}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return sha

    def _take_failure(self, method: str, path: str) -> int | None:
        with self._lock:
            for rule in self._failures:
                if rule[0] == method and rule[1] in path and rule[3] > 0:
                    rule[3] -= 1
                    return rule[2]
        return None


class _Handler(BaseHTTPRequestHandler):
    """One request: parse, authenticate, route to a `_h_*` method inside a state transaction, answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms delayed-ACK stalls
    server_version = "LocalHub/1"
    ROUTES: list[tuple[str, re.Pattern, str]] = []  # (method, path regex, handler name), filled below

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def hub(self) -> LocalHub:
        return self.server.hub  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing ------------------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        if self.hub.gone.is_set():
            return self._hang_up()
        if self.hub._take_vanish(method, url.path):
            self.rfile.read(int(self.headers.get("Content-Length") or 0) // 2)  # half the upload arrives
            self.hub._go_away()
            return self._hang_up()
        self.query = parse_qs(url.query, keep_blank_values=True)
        self.body = self._read_body()  # always drained, so keep-alive connections stay in sync
        self.hub.requests.append((method, self.path))
        try:
            status = self.hub._take_failure(method, url.path)
            if status is not None:
                raise _Reply(status, f"LocalHub injected failure ({status}) for {method} {url.path}")
            for route_method, pattern, name in self.ROUTES:
                match = pattern.fullmatch(url.path)
                if match and (route_method == method or (method == "HEAD" and route_method == "GET")):
                    args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    with self.hub._state(write=method not in ("GET", "HEAD")) as st:
                        self.st = st
                        result = getattr(self, name)(**args)
                    return self._send(*result) if isinstance(result, tuple) else self._send(200, result)
            hint = " (LocalHub has no Xet storage: set HF_HUB_DISABLE_XET=1)" if "xet" in url.path else ""
            raise _Reply(404, f"LocalHub does not implement {method} {url.path}{hint}")
        except _Reply as err:
            self._send_error(err)
        except Exception as exc:  # a LocalHub bug: answer (a dropped connection would make the client retry)
            self._send_error(_Reply(500, f"LocalHub internal error: {exc!r}"))

    def _hang_up(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already: hanging up is all that was wanted
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_error(self, err: _Reply) -> None:
        # RepoCard.validate asks for text/plain and raises ValueError(response.text) on a 400 (repocard.py:215-222)
        plain = "text/plain" in self.headers.get("Accept", "") and self.path.startswith("/api/validate-yaml")
        headers = {"Content-Type": "text/plain; charset=utf-8"} if plain else {}
        headers["X-Error-Message"] = " ".join(err.message.split()).encode("ascii", "replace").decode()[:500]
        if err.code:  # huggingface_hub picks its exception class from this (utils/_http.py hf_raise_for_status)
            headers["X-Error-Code"] = err.code
        self._send(err.status, err.message.encode() if plain else err.payload, {**headers, **err.headers})

    def _send(self, status: int, payload: Any = b"", headers: dict | None = None) -> None:
        headers = dict(headers or {})
        if isinstance(payload, tuple):  # a blob slice (path, start, end) from _h_resolve
            path, start, end = payload
            length = end - start
        else:
            if not isinstance(payload, bytes):
                payload = json.dumps(payload).encode()
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
            length = len(payload)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(payload, tuple):
            with open(path, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(length))
        else:
            self.wfile.write(payload)

    def _json(self) -> dict:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            raise _Reply(400, "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _Reply(400, "request body must be a JSON object")
        return data

    def _param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    # -- auth and lookups ----------------------------------------------------------------------------------
    def _user(self) -> str | None:
        auth = self.headers.get("Authorization")
        if not auth:
            return None
        token = auth.split(" ", 1)[1].strip() if auth.lower().startswith("bearer ") else ""
        for name, user in self.st["users"].items():
            if token and hmac.compare_digest(user["token"], token):
                return name
        raise _Reply(401, "Invalid credentials in Authorization header")

    def _require_user(self) -> str:
        user = self._user()
        if user is None:
            raise _Reply(401, "Authorization header is missing: this request needs a token with write access")
        return user

    def _is_member(self, user: str | None, ns: str) -> bool:
        return user is not None and (user == ns or ns in self.st["users"].get(user, {}).get("orgs", []))

    def _repo(self, t: str | None, ns: str, name: str, write: bool = False) -> dict:
        rtype = "dataset" if t == "datasets" else "model"
        user = self._require_user() if write else self._user()
        repo = self.st["repos"].get(f"{rtype}/{ns}/{name}")
        if repo is None or (repo["private"] and not self._is_member(user, ns)):
            # like the Hub: 401 to an anonymous request (it cannot tell missing from private), 404 to a user
            raise _Reply(404 if user else 401, f"Repository not found: {rtype}s/{ns}/{name}", "RepoNotFound")
        if write and not self._is_member(user, ns):
            raise _Reply(403, f"You don't have the rights to write to {ns}/{name} ({user} is not a member of {ns})")
        return repo

    def _resolve(self, repo: dict, rev: str) -> str:
        pr = _PR_RE.fullmatch(rev)
        branch = rev[len("refs/heads/"):] if rev.startswith("refs/heads/") else rev
        if pr and pr.group(1) in repo["prs"]:
            return repo["prs"][pr.group(1)]
        if branch in repo["branches"]:
            return repo["branches"][branch]
        if rev in repo["commits"]:
            return rev
        raise _Reply(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _base_url(self, repo: dict) -> str:
        prefix = "datasets/" if repo["type"] == "dataset" else ""
        return f"{self.hub.endpoint}/{prefix}{repo['id']}"

    def _new_commit(self, repo: dict, parent: str | None, tree: dict, title: str, message: str, author: str) -> str:
        date = _now()
        seed = json.dumps([repo["id"], parent, tree, title, message, author, date, len(repo["commits"])])
        oid = hashlib.sha1(seed.encode()).hexdigest()
        repo["commits"][oid] = {"parents": [parent] if parent else [], "title": title, "message": message,
                                "author": author, "date": date, "tree": tree}
        return oid

    def _file_entry(self, data: bytes, lfs: bool) -> dict:
        sha = self.hub._put_blob(data)
        oid = _git_oid(_lfs_pointer(sha, len(data)) if lfs else data)
        return {"sha256": sha, "size": len(data), "oid": oid, "lfs": lfs}

    def _card(self, tree: dict) -> dict | None:
        entry = tree.get("README.md")
        if entry is None:
            return None
        text = self.hub._blob_path(entry["sha256"]).read_bytes().decode("utf-8", "replace")
        return parse_front_matter(text)[0]

    # -- users and repos -----------------------------------------------------------------------------------
    def _h_whoami(self) -> dict:
        user = self._require_user()
        orgs = self.st["users"][user]["orgs"]
        return {"type": "user", "id": hashlib.sha1(user.encode()).hexdigest()[:24], "name": user, "fullname": user,
                "isPro": False, "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "write"} for o in orgs],
                "auth": {"type": "access_token", "accessToken": {"displayName": "localhub", "role": "write"}}}

    def _h_repo_create(self) -> dict:
        user, body = self._require_user(), self._json()
        ns, name, rtype = body.get("organization") or user, str(body.get("name") or ""), body.get("type") or "model"
        if rtype not in ("model", "dataset"):
            raise _Reply(400, f"LocalHub supports model and dataset repos, not {rtype!r}")
        if not _NAME_RE.fullmatch(name) or name.endswith(".git"):
            raise _Reply(400, f"Invalid repo name {name!r}: use letters, digits, '-', '_' and '.', at most 96")
        if not self._is_member(user, ns):
            raise _Reply(403, f'You don\'t have the rights to create a {rtype} under the namespace "{ns}"')
        key = f"{rtype}/{ns}/{name}"
        if key in self.st["repos"]:  # the client reads "url" from this 409 when exist_ok=True (hf_api.py:4786)
            message = f"You already created this {rtype} repo: {ns}/{name}"
            url = self._base_url(self.st["repos"][key])
            raise _Reply(409, message, payload={"error": message, "url": url})
        repo = {"type": rtype, "id": f"{ns}/{name}", "created": _now(), "branches": {}, "prs": {}, "commits": {},
                "private": body.get("visibility") == "private" or body.get("private") is True}
        tree = {".gitattributes": self._file_entry(DEFAULT_GITATTRIBUTES.encode(), lfs=False)}
        repo["branches"]["main"] = self._new_commit(repo, None, tree, "initial commit", "", user)
        self.st["repos"][key] = repo
        return {"url": self._base_url(repo), "name": repo["id"], "id": repo["id"]}

    def _h_repo_delete(self) -> dict:
        user, body = self._require_user(), self._json()
        ns, rtype = body.get("organization") or user, body.get("type") or "model"
        key = f"{rtype}/{ns}/{body.get('name')}"
        repo = self.st["repos"].get(key)
        if repo is None or (repo["private"] and not self._is_member(user, ns)):
            raise _Reply(404, f"Repository not found: {rtype}s/{ns}/{body.get('name')}", "RepoNotFound")
        if not self._is_member(user, ns):
            raise _Reply(403, f"You don't have the rights to delete {repo['id']}")
        del self.st["repos"][key]
        return {}

    def _h_validate_yaml(self) -> dict:
        body = self._json()
        metadata, error = parse_front_matter(str(body.get("content") or ""))
        if error:
            raise _Reply(400, error, payload={"error": error, "errors": [{"message": error}], "warnings": []})
        warnings = [] if metadata else [{"message": "empty or missing yaml metadata in repo card"}]
        return {"errors": [], "warnings": warnings}

    # -- reads ---------------------------------------------------------------------------------------------
    def _info(self, repo: dict, oid: str, fields: set[str] | None = None, blobs: bool = False) -> dict:
        commit = repo["commits"][oid]
        card = self._card(commit["tree"]) or {}
        tags = card.get("tags") or []
        tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        for key in ("library_name", "license"):
            if isinstance(card.get(key), str):
                tags.append(card[key] if key == "library_name" else f"license:{card[key]}")
        siblings = []
        for path, e in sorted(commit["tree"].items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=e["size"], blobId=e["oid"])
                if e["lfs"]:
                    pointer_size = len(_lfs_pointer(e["sha256"], e["size"]))
                    sibling["lfs"] = {"size": e["size"], "sha256": e["sha256"], "pointerSize": pointer_size}
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo["id"].encode()).hexdigest()[:24], "id": repo["id"],
            "author": repo["id"].split("/")[0], "sha": oid, "lastModified": commit["date"],
            "createdAt": repo["created"], "private": repo["private"], "disabled": False, "gated": False,
            "downloads": 0, "likes": 0, "tags": tags, "siblings": siblings,
        }
        if card:
            info["cardData"] = card
        if repo["type"] == "model":
            info.update(modelId=repo["id"], library_name=card.get("library_name"),
                        pipeline_tag=card.get("pipeline_tag"))
        if fields is not None:
            info = {k: v for k, v in info.items() if k in fields or k in ("_id", "id")}
        return info

    def _expand(self) -> set[str] | None:
        values = self.query.get("expand", []) + self.query.get("expand[]", [])
        return set(values) if values else None

    def _h_repo_info(self, t: str, ns: str, name: str, rev: str = "main") -> dict:
        repo = self._repo(t, ns, name)
        return self._info(repo, self._resolve(repo, rev), self._expand(), _truthy(self._param("blobs")))

    def _h_list_repos(self, t: str) -> list:
        user, rtype = self._user(), t[:-1]
        author, search = self._param("author"), (self._param("search") or "").lower()
        wanted_tags = set(self.query.get("filter", []))
        expand = self._expand()
        if expand is None:
            expand = {"private", "tags", "downloads", "likes", "createdAt", "library_name", "pipeline_tag",
                      "modelId"}
            if _truthy(self._param("full")):
                expand |= {"author", "sha", "lastModified", "siblings", "disabled", "gated"}
            if _truthy(self._param("cardData")) or _truthy(self._param("full")):
                expand.add("cardData")
        items = []
        for repo in sorted(self.st["repos"].values(), key=lambda r: r["id"]):
            ns = repo["id"].split("/")[0]
            if repo["type"] != rtype or (author and ns != author) or search not in repo["id"].lower():
                continue
            if repo["private"] and not self._is_member(user, ns):
                continue
            info = self._info(repo, repo["branches"]["main"], expand | {"tags"})
            if wanted_tags <= set(info["tags"]):
                items.append(info if "tags" in expand else {k: v for k, v in info.items() if k != "tags"})
        limit = self._param("limit")
        return items[: int(limit)] if limit and limit.isdigit() else items

    def _tree_entry(self, path: str, e: dict, repo: dict | None = None, oid: str | None = None) -> dict:
        item: dict[str, Any] = {"type": "file", "oid": e["oid"], "size": e["size"], "path": path}
        if e["lfs"]:
            item["lfs"] = {"oid": e["sha256"], "size": e["size"],
                           "pointerSize": len(_lfs_pointer(e["sha256"], e["size"]))}
        if repo is not None and oid is not None:  # expand=True: the last commit that changed the file
            while repo["commits"][oid]["parents"]:
                parent = repo["commits"][oid]["parents"][0]
                if repo["commits"][parent]["tree"].get(path) != e:
                    break
                oid = parent
            c = repo["commits"][oid]
            item["lastCommit"] = {"id": oid, "title": c["title"], "date": c["date"]}
        return item

    def _dir_entry(self, path: str, oid: str) -> dict:
        return {"type": "directory", "oid": hashlib.sha1(f"{oid}:{path}".encode()).hexdigest(), "size": 0,
                "path": path}

    def _h_tree(self, t: str, ns: str, name: str, rev: str, path: str = "") -> list:
        repo = self._repo(t, ns, name)
        oid = self._resolve(repo, rev)
        tree, path = repo["commits"][oid]["tree"], path.strip("/")
        recursive, expand = _truthy(self._param("recursive")), _truthy(self._param("expand"))
        prefix = f"{path}/" if path else ""
        if path in tree:
            return [self._tree_entry(path, tree[path], repo if expand else None, oid)]
        files = {p: e for p, e in tree.items() if p.startswith(prefix)}
        if path and not files:
            raise _Reply(404, f"{path} does not exist on {rev}", "EntryNotFound", {"X-Repo-Commit": oid})
        items, dirs = [], set()
        for p, e in sorted(files.items()):
            parts = p[len(prefix):].split("/")
            for i in range(1, len(parts) if recursive else min(2, len(parts))):
                dirs.add(prefix + "/".join(parts[:i]))
            if recursive or len(parts) == 1:
                items.append(self._tree_entry(p, e, repo if expand else None, oid))
        return [self._dir_entry(d, oid) for d in sorted(dirs)] + items

    def _h_paths_info(self, t: str, ns: str, name: str, rev: str) -> list:
        repo = self._repo(t, ns, name)
        oid = self._resolve(repo, rev)
        tree, form = repo["commits"][oid]["tree"], parse_qs(self.body.decode(), keep_blank_values=True)
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in tree:
                out.append(self._tree_entry(path, tree[path]))
            elif any(p.startswith(path + "/") for p in tree):
                out.append(self._dir_entry(path, oid))
        return out

    def _h_refs(self, t: str, ns: str, name: str) -> dict:
        repo = self._repo(t, ns, name)
        refs: dict[str, Any] = {
            "branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": o} for b, o in repo["branches"].items()],
            "converts": [], "tags": []}
        if _truthy(self._param("include_prs")):
            refs["pullRequests"] = [{"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": o}
                                    for n, o in sorted(repo["prs"].items(), key=lambda kv: int(kv[0]))]
        return refs

    def _h_commits(self, t: str, ns: str, name: str, rev: str) -> list:
        repo = self._repo(t, ns, name)
        oid: str | None = self._resolve(repo, rev)
        formatted = "formatted" in (self._expand() or set())
        out = []
        while oid:
            c = repo["commits"][oid]
            item = {"id": oid, "title": c["title"], "message": c["message"], "date": c["date"],
                    "authors": [{"user": c["author"], "avatar": None}]}
            if formatted:
                item["formatted"] = {"title": c["title"], "message": c["message"]}
            out.append(item)
            oid = c["parents"][0] if c["parents"] else None
        return out

    def _h_resolve(self, ns: str, name: str, rev: str, path: str, t: str | None = None) -> tuple:
        repo = self._repo(t, ns, name)
        oid = self._resolve(repo, rev)
        entry = repo["commits"][oid]["tree"].get(path)
        if entry is None:
            raise _Reply(404, f"Entry not found: {path} at {rev}", "EntryNotFound", {"X-Repo-Commit": oid})
        headers = {"X-Repo-Commit": oid, "ETag": f'"{entry["oid"]}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream",
                   "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.split('/')[-1])}"}
        if entry["lfs"]:
            headers.update({"X-Linked-Etag": f'"{entry["sha256"]}"', "X-Linked-Size": entry["size"]})
        start, end, status = 0, entry["size"], 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(end, int(match.group(2)) + 1) if match.group(2) else end
            else:
                start = max(0, end - int(match.group(2)))
            if start >= end:
                raise _Reply(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{end}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{entry['size']}"
        return status, (self.hub._blob_path(entry["sha256"]), start, end), headers

    # -- writes --------------------------------------------------------------------------------------------
    def _h_preupload(self, t: str, ns: str, name: str, rev: str) -> dict:
        repo = self._repo(t, ns, name, write=True)
        tree = repo["commits"][self._resolve(repo, rev)]["tree"]
        attributes = tree.get(".gitattributes")
        text = self.hub._blob_path(attributes["sha256"]).read_text("utf-8", "replace") if attributes else ""
        patterns = [line.split()[0] for line in text.splitlines() if "filter=lfs" in line and line.strip()]
        files = []
        for f in self._json().get("files", []):
            path, size, sample = f["path"], int(f.get("size", 0)), base64.b64decode(f.get("sample", ""))
            matched = any(fnmatch.fnmatchcase(path if "/" in p else path.split("/")[-1], p) for p in patterns)
            mode = "lfs" if size >= LFS_THRESHOLD or _looks_binary(sample) or matched else "regular"
            existing = tree.get(path)
            remote_oid = None if existing is None else existing["sha256" if existing["lfs"] else "oid"]
            files.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": remote_oid})
        return {"files": files}

    def _h_lfs_batch(self, ns: str, name: str, t: str | None = None) -> tuple:
        self._repo(t, ns, name.removesuffix(".git"), write=True)
        body, objects = self._json(), []
        if body.get("operation") != "upload":
            raise _Reply(400, "LocalHub only implements LFS uploads (downloads go through /resolve)")
        for obj in body.get("objects", []):
            oid, size = str(obj.get("oid")), int(obj.get("size", -1))
            if not re.fullmatch(r"[0-9a-f]{64}", oid) or size < 0:
                objects.append({"oid": oid, "size": max(size, 0), "error": {"code": 422, "message": "bad oid/size"}})
                continue
            item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            blob = self.hub._blob_path(oid)
            if not (blob.exists() and blob.stat().st_size == size):
                sig = hmac.new(self.st["secret"].encode(), f"{oid}:{size}".encode(), "sha256").hexdigest()
                item["actions"] = {
                    "upload": {"href": f"{self.hub.endpoint}/lfs/objects/{oid}?size={size}&sig={sig}"},
                    "verify": {"href": f"{self.hub.endpoint}/lfs/verify/{oid}"},
                }
            objects.append(item)
        return 200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}

    def _h_lfs_put(self, oid: str) -> dict:
        size = self._param("size") or ""
        expected = hmac.new(self.st["secret"].encode(), f"{oid}:{size}".encode(), "sha256").hexdigest()
        if not hmac.compare_digest(expected, self._param("sig") or ""):
            raise _Reply(403, "invalid or missing upload signature (ask the LFS batch endpoint for an upload URL)")
        if len(self.body) != int(size) or hashlib.sha256(self.body).hexdigest() != oid:
            raise _Reply(400, f"uploaded content does not match oid sha256:{oid} and size {size}")
        self.hub._put_blob(self.body)
        return {}

    def _h_lfs_verify(self, oid: str) -> dict:
        self._require_user()
        blob, size = self.hub._blob_path(oid), self._json().get("size")
        if not blob.exists() or blob.stat().st_size != size:
            raise _Reply(404, f"LFS object sha256:{oid} (size {size}) was not uploaded")
        return {}

    def _h_commit(self, t: str, ns: str, name: str, rev: str) -> dict:
        repo = self._repo(t, ns, name, write=True)
        user, create_pr = self._require_user(), _truthy(self._param("create_pr"))
        pr = _PR_RE.fullmatch(rev)
        if not create_pr and rev not in repo["branches"] and not (pr and pr.group(1) in repo["prs"]):
            raise _Reply(404, f"Invalid rev id: {rev} (commits go to a branch or refs/pr/N)", "RevisionNotFound")
        head = self._resolve(repo, rev)
        try:
            lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        except ValueError:
            raise _Reply(400, "commit payload is not valid NDJSON") from None
        header = next((line["value"] for line in lines if line.get("key") == "header"), None)
        if header is None or not header.get("summary"):
            raise _Reply(400, "commit payload needs a header line with a summary")
        if header.get("parentCommit") and header["parentCommit"] != head:
            raise _Reply(412, f"A commit has happened since {header['parentCommit']}: refresh and try again")
        tree = dict(repo["commits"][head]["tree"])
        for line in lines:
            self._apply(tree, line.get("key"), line.get("value") or {})
        oid = self._new_commit(repo, head, tree, header["summary"], header.get("description") or "", user)
        pr_url = None
        if create_pr:
            number = str(max((int(n) for n in repo["prs"]), default=0) + 1)
            repo["prs"][number] = oid
            pr_url = f"{self._base_url(repo)}/discussions/{number}"
        elif pr:
            repo["prs"][pr.group(1)] = oid
        else:
            repo["branches"][rev] = oid
        return {"success": True, "commitOid": oid, "commitUrl": f"{self._base_url(repo)}/commit/{oid}",
                "commitMessage": header["summary"], "pullRequestUrl": pr_url}

    def _apply(self, tree: dict, key: str | None, value: dict) -> None:
        path = str(value.get("path", "")).strip("/")
        if key == "file":
            if value.get("encoding", "base64") != "base64":
                raise _Reply(400, f"unsupported encoding for {path}")
            tree[path] = self._file_entry(base64.b64decode(value.get("content", "")), lfs=False)
        elif key == "lfsFile":
            blob = self.hub._blob_path(str(value.get("oid")))
            if not blob.exists() or ("size" in value and blob.stat().st_size != value["size"]):
                raise _Reply(422, f"LFS object for {path} was not uploaded (sha256:{value.get('oid')})")
            size = blob.stat().st_size
            tree[path] = {"sha256": value["oid"], "size": size, "lfs": True,
                          "oid": _git_oid(_lfs_pointer(value["oid"], size))}
        elif key == "deletedFile":
            if tree.pop(path, None) is None:
                raise _Reply(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
        elif key == "deletedFolder":
            for p in [p for p in tree if p.startswith(path + "/")]:
                del tree[p]
        elif key != "header":
            raise _Reply(400, f"unknown commit operation {key!r}")

    def _h_branch_create(self, t: str, ns: str, name: str, branch: str) -> dict:
        repo = self._repo(t, ns, name, write=True)
        if branch in repo["branches"]:
            raise _Reply(409, f"Reference already exists: refs/heads/{branch}")
        if branch.startswith("refs/") or not re.fullmatch(r"[A-Za-z0-9._/-]+", branch):
            raise _Reply(400, f"Invalid branch name {branch!r}")
        repo["branches"][branch] = self._resolve(repo, self._json().get("startingPoint") or "main")
        return {}

    def _h_branch_delete(self, t: str, ns: str, name: str, branch: str) -> dict:
        repo = self._repo(t, ns, name, write=True)
        if branch == "main":
            raise _Reply(403, "The default branch cannot be deleted")
        if repo["branches"].pop(branch, None) is None:
            raise _Reply(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        return {}


_Handler.ROUTES = [(m, re.compile(p), h) for m, p, h in [
    ("GET", r"/api/whoami-v2", "_h_whoami"),
    ("POST", r"/api/repos/create", "_h_repo_create"),
    ("DELETE", r"/api/repos/delete", "_h_repo_delete"),
    ("POST", r"/api/validate-yaml", "_h_validate_yaml"),
    ("GET", r"/api/(?P<t>models|datasets)", "_h_list_repos"),
    ("GET", _REPO, "_h_repo_info"),
    ("GET", _REPO + r"/revision/(?P<rev>[^/]+)", "_h_repo_info"),
    ("GET", _REPO + r"/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", "_h_tree"),
    ("POST", _REPO + r"/paths-info/(?P<rev>[^/]+)", "_h_paths_info"),
    ("GET", _REPO + r"/refs", "_h_refs"),
    ("GET", _REPO + r"/commits/(?P<rev>[^/]+)", "_h_commits"),
    ("POST", _REPO + r"/preupload/(?P<rev>[^/]+)", "_h_preupload"),
    ("POST", _REPO + r"/commit/(?P<rev>[^/]+)", "_h_commit"),
    ("POST", _REPO + r"/branch/(?P<branch>[^/]+)", "_h_branch_create"),
    ("DELETE", _REPO + r"/branch/(?P<branch>[^/]+)", "_h_branch_delete"),
    ("POST", _GIT_REPO + r"/info/lfs/objects/batch", "_h_lfs_batch"),
    ("PUT", r"/lfs/objects/(?P<oid>[0-9a-f]{64})", "_h_lfs_put"),
    ("POST", r"/lfs/verify/(?P<oid>[0-9a-f]{64})", "_h_lfs_verify"),
    ("GET", _GIT_REPO + r"/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "_h_resolve"),
]]
