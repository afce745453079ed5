"""CachedMultipleNegativesRankingLoss (GradCache): MNR with a batch of 1024+ in the memory of a small one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.api import Loss
from hubembed_plugins.losses.mnr import negatives_per_anchor  # the same batch arithmetic: GradCache changes memory, not math


@dataclass(frozen=True)
class Params:
    scale: float = field(default=20.0, metadata={"help": "inverse temperature applied to the cosine similarities"})
    mini_batch_size: int = field(
        default=32, metadata={"help": "texts embedded at once; memory follows this, not training.batch_size"}
    )
    gather_across_devices: bool = field(
        default=True, metadata={"help": "with several processes, use every process's batch as negatives"}
    )

    def __post_init__(self) -> None:
        if self.mini_batch_size < 1:
            raise ValueError(f"mini_batch_size must be at least 1, got {self.mini_batch_size}")


class CachedMNRLoss(Loss):
    summary = "MNR with GradCache: in-batch negatives of a big batch, embedded in mini-batches at fixed memory"
    Params = Params
    expects = ("n-tuple", "triplet", "pair")  # n-tuple: triplets with more mined negatives (hard-negatives)
    default_data = ("nli",)
    default_eval = ("stsb",)
    in_batch_negatives = True
    citation = """@misc{gao2021scaling,
    title = {Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author = {Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
    year = {2021}, eprint = {2101.06983}, archivePrefix = {arXiv}
}"""

    def build(self, model: Any) -> Any:
        import torch.distributed as dist
        from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        return CachedMultipleNegativesRankingLoss(
            model,
            scale=self.params.scale,
            mini_batch_size=self.params.mini_batch_size,
            gather_across_devices=self.params.gather_across_devices and distributed,
        )

    @classmethod
    def with_mini_batch(cls, params: dict[str, Any], size: int) -> tuple[None, dict[str, Any]]:
        return None, {**params, "mini_batch_size": size}  # itself, with the new size

    def negatives_per_anchor(self, batch_size: int, processes: int, columns: int) -> int:
        return negatives_per_anchor(batch_size, processes, columns, self.params.gather_across_devices)
