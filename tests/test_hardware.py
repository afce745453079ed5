"""Precision choice and autocast on this machine's real CPU (no GPU here: the CUDA branches run on GPU machines)."""

from __future__ import annotations

import os

import pytest
import torch

from hubembed import hardware
from hubembed.errors import ConfigError
from hubembed.types import TrainingParams

needs_cpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU branch")


@needs_cpu
def test_auto_picks_bf16_exactly_when_the_cpu_has_bf16_units():
    expected = "bf16" if hardware.cpu_flags() & {"amx_bf16", "avx512_bf16"} else "fp32"
    assert hardware.resolve_precision("auto") == expected
    assert hardware.resolve_precision("fp32") == "fp32" and hardware.resolve_precision("bf16") == "bf16"


@needs_cpu
def test_bad_precisions_say_what_to_use():
    with pytest.raises(ConfigError, match="use one of auto, fp32, bf16, fp16"):
        hardware.resolve_precision("int8")
    with pytest.raises(ConfigError, match="fp16 needs a GPU; on this CPU use --precision bf16 or fp32"):
        hardware.resolve_precision("fp16")


@needs_cpu
def test_autocast_runs_matmuls_in_the_asked_precision_and_leaves_fp32_alone():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with hardware.autocast("bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with hardware.autocast("fp32"):
        assert (a @ b).dtype == torch.float32
    assert (a @ b).dtype == torch.float32  # nothing leaks out of the context


@needs_cpu
def test_speed_note_says_how_the_run_goes_and_how_to_change_it():
    note = hardware.speed_note(TrainingParams(precision="fp32", group_by_length=False))
    assert note.startswith("fp32 (as asked), batches in random order (training.group_by_length=false)")
    assert note.endswith(f"{torch.get_num_threads()} threads")
    auto = hardware.speed_note(TrainingParams())
    if hardware.cpu_has_bf16():
        assert auto.startswith(f"bf16 autocast (this CPU has {hardware.bf16_units()}; --precision fp32 turns it off)")
    else:
        assert auto.startswith("fp32 (this CPU has no bf16 units)")
    assert "length-grouped batches" in auto
    assert hardware.describe().startswith(f"CPU: {os.cpu_count()} cores")
