"""MultipleNegativesRankingLoss: in-batch negatives (plus a hard negative per anchor when given triplets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.api import Loss


@dataclass(frozen=True)
class Params:
    scale: float = field(default=20.0, metadata={"help": "inverse temperature applied to the cosine similarities"})
    gather_across_devices: bool = field(
        default=True, metadata={"help": "with several processes, use every process's batch as negatives"}
    )


class MNRLoss(Loss):
    summary = "Multiple negatives ranking loss (InfoNCE): in-batch negatives plus hard negatives from triplets"
    Params = Params
    expects = ("n-tuple", "triplet", "pair")  # n-tuple: triplets with more mined negatives (hard-negatives)
    default_data = ("nli",)
    default_eval = ("stsb",)
    in_batch_negatives = True
    citation = """@misc{henderson2017efficient,
    title = {Efficient Natural Language Response Suggestion for Smart Reply},
    author = {Matthew Henderson and Rami Al-Rfou and Brian Strope and Yun-hsuan Sung and Laszlo Lukacs and Ruiqi Guo and Sanjiv Kumar and Balint Miklos and Ray Kurzweil},
    year = {2017}, eprint = {1705.00652}, archivePrefix = {arXiv}
}"""

    def build(self, model: Any) -> Any:
        import torch.distributed as dist
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        return MultipleNegativesRankingLoss(
            model, scale=self.params.scale, gather_across_devices=self.params.gather_across_devices and distributed
        )

    @classmethod
    def with_mini_batch(cls, params: dict[str, Any], size: int) -> tuple[str, dict[str, Any]]:
        """The same loss with GradCache: cached-mnr (scale and gathering carry over)."""
        return "cached-mnr", {**params, "mini_batch_size": size}

    def negatives_per_anchor(self, batch_size: int, processes: int, columns: int) -> int:
        return negatives_per_anchor(batch_size, processes, columns, self.params.gather_across_devices)


def negatives_per_anchor(batch_size: int, processes: int, columns: int, gather: bool) -> int:
    """Each anchor is scored against every positive and hard negative of the batch (of all processes when they are
    gathered) but its own positive: batch x (columns - 1) - 1."""
    rows = batch_size * (processes if gather else 1)
    return rows * (columns - 1) - 1
