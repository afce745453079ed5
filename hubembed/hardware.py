"""What the machine can do: precision choice and a one-line description for cards. Part of the trainer API."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

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
        raise ConfigError("fp16 needs a GPU; on this CPU use --set training.precision=bf16 or fp32")
    return requested


def describe() -> str:
    """e.g. 'CPU: 2 cores (x86_64, avx512_bf16)' or 'GPU: 1 x NVIDIA H100'."""
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    extra = ", ".join(sorted(cpu_flags() & {"amx_bf16", "avx512_bf16"})) or "no bf16 units"
    return f"CPU: {os.cpu_count()} cores ({platform.machine()}, {extra})"
