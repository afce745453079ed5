"""Checkpoints of a run in progress (`<stage>/checkpoints/checkpoint-N`, written by the trainer): which are
complete, which were cut short by a crash or a full disk, and which one a resumed run starts from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable


CHECKPOINTS = "checkpoints"  # <stage>/checkpoints/checkpoint-N, written by the trainer every training.save_steps
UNFINISHED = "it was not finished"  # a checkpoint without trainer_state.json, which the trainer writes last


def checkpoint_dirs(stage: Path) -> list[Path]:
    """The staging folder's checkpoint-N folders, finished or not, newest first."""
    import re

    found = [(int(m.group(1)), p) for p in (stage / CHECKPOINTS).glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def last_checkpoint(stage: Path) -> Path | None:
    """The newest complete checkpoint (one whose trainer_state.json was written) in the staging folder."""
    return next((p for p in checkpoint_dirs(stage) if (p / "trainer_state.json").is_file()), None)


def checkpoint_damage(checkpoint: Path) -> str | None:
    """Why `checkpoint` cannot be resumed from (unfinished, or a file cut short), or None. Reads only headers and
    zip directories, so it is quick for big models too."""
    if not (checkpoint / "trainer_state.json").is_file():
        return UNFINISHED
    for path in sorted(p for p in checkpoint.rglob("*") if p.is_file()):
        if not _file_complete(path):
            return f"{path.relative_to(checkpoint)} is cut short"
    return None


def _file_complete(path: Path) -> bool:
    import zipfile

    if path.suffix == ".safetensors":
        return _safetensors_complete(path)
    if path.suffix in (".pt", ".pth", ".bin"):  # torch.save writes zip archives: a cut file loses its directory
        return zipfile.is_zipfile(path)
    if path.suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return False
    return True


def _safetensors_complete(path: Path) -> bool:
    """A safetensors file is an 8-byte header length, a JSON header with each tensor's byte range, then the data."""
    with path.open("rb") as f:
        head = f.read(8)
        size = int.from_bytes(head, "little") if len(head) == 8 else -1
        try:
            header = json.loads(f.read(size)) if 0 <= size <= path.stat().st_size else None
        except (ValueError, UnicodeDecodeError):
            header = None
    if not isinstance(header, dict):
        return False
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    return path.stat().st_size >= 8 + size + max(ends, default=0)


def resume_point(stage: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint that can be resumed from, and the newer ones that cannot (with why)."""
    damaged = []
    for path in checkpoint_dirs(stage):
        why = checkpoint_damage(path)
        if why is None:
            return path, damaged
        damaged.append((path, why))
    return None, damaged


def drop_damaged_checkpoints(stage: Path, log: Callable[[str], None]) -> None:
    """Before resuming: remove the checkpoints newer than the last intact one, saying so (the trainer would load
    the newest, and a cut file fails it)."""
    point, damaged = resume_point(stage)
    for path, why in damaged:
        shutil.rmtree(path)
        log(f"{path.name} is damaged ({why}): removed it; resuming from {point.name if point else '?'}")
