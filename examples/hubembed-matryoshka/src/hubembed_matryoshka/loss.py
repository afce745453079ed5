"""MatryoshkaLoss around MultipleNegativesRankingLoss, from sentence-transformers, as a hubembed loss plugin.

The model learns embeddings whose first 1/2, 1/4, 1/8 ... dimensions are themselves good embeddings, so users
can truncate them (`SentenceTransformer(..., truncate_dim=96)`) for cheaper storage and search. Nothing heavy is
imported at module level: hubembed imports this module to list the plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.api import ConfigError, Loss


@dataclass(frozen=True)
class Params:
    dims: tuple[int, ...] = field(
        default=(),
        metadata={"help": "embedding sizes to train, e.g. [384, 192, 96]; empty: the full size, then halves down to 1/8"},
    )
    weights: tuple[float, ...] = field(default=(), metadata={"help": "weight of each size's loss (empty: all 1)"})
    n_dims_per_step: int = field(default=-1, metadata={"help": "train a random subset of this many sizes per step (-1: all)"})
    scale: float = field(default=20.0, metadata={"help": "inverse temperature of the inner MNR loss"})


class MatryoshkaMNRLoss(Loss):
    summary = "Matryoshka loss over MNR: embeddings that stay good when truncated to 1/2, 1/4, 1/8 of their size"
    Params = Params
    expects = ("triplet", "pair")
    in_batch_negatives = True  # the inner loss is MNR: a batch must not repeat a text
    default_data = ("nli",)
    default_eval = ("stsb",)
    citation = """@misc{kusupati2024matryoshka,
    title = {Matryoshka Representation Learning},
    author = {Aditya Kusupati and Gantavya Bhatt and Aniket Rege and Matthew Wallingford and Aditya Sinha and Vivek Ramanujan and William Howard-Snyder and Kaifeng Chen and Sham Kakade and Prateek Jain and Ali Farhadi},
    year = {2024}, eprint = {2205.13147}, archivePrefix = {arXiv}, primaryClass = {cs.LG}
}"""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        p = self.params
        if any(d <= 0 for d in p.dims):
            raise ConfigError(f"matryoshka: dims {list(p.dims)} must be positive sizes, e.g. --set loss.dims=[384,192,96]")
        if p.weights and len(p.weights) != len(p.dims):
            raise ConfigError("matryoshka: give one weight per size in dims (or none), e.g. --set loss.dims=[384,96] --set loss.weights=[1,0.5]")

    def dims_for(self, full: int) -> list[int]:
        """The sizes trained for a model whose embeddings have `full` dimensions."""
        if self.params.dims:
            too_big = [d for d in self.params.dims if d > full]
            if too_big:
                raise ConfigError(f"matryoshka: dims {too_big} exceed the model's embedding size {full}; use sizes <= {full}")
            return list(self.params.dims)
        return sorted({max(1, full // 2**i) for i in range(4)}, reverse=True)

    def build(self, model: Any) -> Any:
        from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

        dims = self.dims_for(model.get_embedding_dimension())
        return MatryoshkaLoss(
            model,
            MultipleNegativesRankingLoss(model, scale=self.params.scale),
            matryoshka_dims=dims,
            matryoshka_weights=list(self.params.weights) or None,
            n_dims_per_step=self.params.n_dims_per_step,
        )
