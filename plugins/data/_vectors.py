"""Embedding and nearest-neighbour helpers shared by the miners and labelers (hard-negatives, augsbert).

Not a plugin. Embeddings are cached on disk under `<cache_dir>/embeddings/`, keyed by the model's content
fingerprint, the precision and the exact list of texts, so a re-run of the same step on the same data does not
embed again. Top-k search runs over blocks of queries, so memory stays bounded by `chunk_size x pool` scores.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")


def model_fingerprint(model: str) -> str:
    """Content hash of a local model folder (weights, configs, vocab), or the id itself for a Hub id."""
    folder = Path(model)
    if not folder.is_dir():
        return hashlib.sha256(f"hub:{model}".encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        if file.name == "README.md" or "checkpoint" in file.parts[-2]:
            continue
        digest.update(str(file.relative_to(folder)).encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def texts_fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def resolve_precision(precision: str) -> str:
    """auto -> bf16 where the hardware runs it fast (AMX / AVX512-BF16 / CUDA), else fp32."""
    from hubembed.api import resolve_precision as resolve

    resolved = resolve(precision)
    return "fp32" if resolved == "fp16" else resolved


def load_model(path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    from hubembed.api import ModelLoadError

    try:
        return SentenceTransformer(str(path))
    except Exception as err:  # noqa: BLE001 - a missing or broken folder: say which
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise ModelLoadError(f"cannot load embedding model {path} ({first}); pass a sentence-transformers folder") from err


def embed(
    model: Any,
    texts: list[str],
    *,
    model_key: str,
    cache_dir: Path | None,
    batch_size: int = 64,
    precision: str = "fp32",
    log: Callable[[str], None] = print,
    what: str = "texts",
) -> tuple[Any, bool]:
    """L2-normalised float32 embeddings of `texts` (a torch tensor, one row per text) and whether they came from
    the cache. `precision` bf16 runs the encoder under bf16 autocast (several times faster on AMX CPUs)."""
    import numpy as np
    import torch

    file = None
    if cache_dir is not None:
        key = hashlib.sha256(f"{model_key}|{precision}|{texts_fingerprint(texts)}".encode()).hexdigest()[:24]
        file = Path(cache_dir) / "embeddings" / f"{key}.npy"
        cached = _from_cache(file, len(texts), what, log)
        if cached is not None:
            return cached, True
    started = time.time()
    log(f"  embedding {len(texts)} {what} ({precision}, batch {batch_size})...")
    with torch.inference_mode(), torch.autocast(
        "cuda" if model.device.type == "cuda" else "cpu", dtype=torch.bfloat16, enabled=precision == "bf16"
    ):
        vectors = model.encode(
            texts,
            batch_size=batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=sys.stderr.isatty(),
        )
    vectors = torch.nn.functional.normalize(vectors.float().cpu(), dim=-1).contiguous()
    log(f"  embedded {len(texts)} {what} in {time.time() - started:.1f} s")
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, vectors.numpy())
        os.replace(tmp, file)  # atomic: a concurrent or interrupted run never reads half a file
    return vectors, False


def _from_cache(file: Path, count: int, what: str, log: Callable[[str], None]) -> Any | None:
    """The embeddings cached in `file`, or None when there are none for these `count` texts (they are embedded
    again and the file overwritten)."""
    import numpy as np
    import torch

    if not file.exists():
        return None
    try:
        array = np.load(file)
    except (OSError, ValueError) as err:
        log(f"  embeddings cache {file.name} is unreadable ({err}): embedding again")
        return None
    if array.shape[0] != count:
        return None
    log(f"  {count} {what}: embeddings from the cache ({file.name})")
    return torch.from_numpy(array)


def topk_blocks(
    queries: Any,
    pool: Any,
    k: int,
    *,
    exclude: dict[int, list[int]] | None = None,
    chunk_size: int = 4096,
    log: Callable[[str], None] | None = None,
) -> tuple[Any, Any]:
    """(scores, indices) of the k most similar pool rows for every query, best first, computed one block of
    `chunk_size` queries at a time. `exclude[q]` lists pool rows query q must never get (its own positives...);
    they come back as -inf with index -1 when fewer than k others exist."""
    import torch

    n, m = queries.shape[0], pool.shape[0]
    k = min(k, m)
    all_scores = torch.empty((n, k), dtype=torch.float32)
    all_indices = torch.empty((n, k), dtype=torch.long)
    pool_t = pool.T.contiguous()
    rows_ex: list[int] = []
    cols_ex: list[int] = []
    for q, cols in (exclude or {}).items():
        rows_ex.extend([q] * len(cols))
        cols_ex.extend(cols)
    rows_t = torch.tensor(rows_ex, dtype=torch.long)
    cols_t = torch.tensor(cols_ex, dtype=torch.long)
    order = torch.argsort(rows_t) if len(rows_ex) else rows_t
    rows_t, cols_t = rows_t[order], cols_t[order]
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        block = queries[start:stop] @ pool_t
        if len(rows_ex):
            lo = int(torch.searchsorted(rows_t, start))
            hi = int(torch.searchsorted(rows_t, stop))
            block[rows_t[lo:hi] - start, cols_t[lo:hi]] = -float("inf")
        scores, indices = torch.topk(block, k, dim=1)
        indices[torch.isinf(scores)] = -1
        all_scores[start:stop] = scores
        all_indices[start:stop] = indices
        if log is not None and n > chunk_size:
            log(f"  top-{k}: {stop}/{n} queries")
    return all_scores, all_indices


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
