"""Full fine-tuning: every weight of the model trains, with the core's runner (hubembed.training) as it is."""

from __future__ import annotations

from dataclasses import dataclass, field

from hubembed.api import Trainer


@dataclass(frozen=True)
class Params:
    """Both are named like training arguments, so the core's runner passes them as they are."""

    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "clip gradients to this norm"})


class FullTrainer(Trainer):
    summary = "Full fine-tune of every weight with SentenceTransformerTrainer"
    Params = Params
