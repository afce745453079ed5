"""What the machine can do: precision choice and a one-line description for cards. Part of the trainer API."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from hubembed.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    """e.g. 'AMD EPYC' or 'Intel(R) Xeon(R) Platinum 8480+' (what lscpu calls the model name)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matmuls run several times faster than fp32 here."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def resolve_precision(requested: str) -> str:
    """`auto` -> bf16 where the hardware runs it fast (CUDA with bf16, or a CPU with AMX/AVX512-BF16), else fp32."""
    if requested not in PRECISIONS:
        raise ConfigError(f"precision {requested!r} is unknown; use one of {', '.join(PRECISIONS)}")
    import torch

    cuda = torch.cuda.is_available()
    if requested == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_bf16() else "fp32"
    if requested == "fp16" and not cuda:
        raise ConfigError("fp16 needs a GPU; on this CPU use --precision bf16 or fp32")
    return requested


def describe() -> str:
    """e.g. 'CPU: 2 cores (x86_64, avx512_bf16)' or 'GPU: 1 x NVIDIA H100'."""
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"CPU: {os.cpu_count()} cores ({platform.machine()}, {bf16_units()})"


def bf16_units() -> str:
    """e.g. 'amx_bf16, avx512_bf16', or 'no bf16 units'."""
    return ", ".join(sorted(cpu_flags() & {"amx_bf16", "avx512_bf16"})) or "no bf16 units"


def speed_note(training: Any) -> str:
    """The line `hubembed train` prints about how it will run, e.g. 'bf16 autocast (this CPU has avx512_bf16;
    --precision fp32 turns it off), length-grouped batches'."""
    import torch

    precision = resolve_precision(training.precision)
    if precision == "fp32":
        why = "as asked" if training.precision == "fp32" else "this CPU has no bf16 units"
        note = f"fp32 ({why})"
    elif torch.cuda.is_available():
        note = f"{precision} mixed precision on {torch.cuda.get_device_name(0)}"
    else:
        note = f"bf16 autocast (this CPU has {bf16_units()}; --precision fp32 turns it off)"
    grouping = ("length-grouped batches" if training.group_by_length
                else "batches in random order (training.group_by_length=false)")
    return f"{note}, {grouping}, {torch.get_num_threads()} threads"


@contextlib.contextmanager
def autocast(precision: str) -> Iterator[None]:
    """Run what is inside in `precision` (a resolved one: fp32, bf16 or fp16) with torch autocast: evaluation uses
    the same precision as training: STSB ~2x faster than fp32 on a bf16 CPU, Spearman within 2e-4."""
    if precision == "fp32":
        yield
        return
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.autocast(device, dtype=torch.bfloat16 if precision == "bf16" else torch.float16):
        yield
