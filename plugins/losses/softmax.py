"""SoftmaxLoss: the original SBERT objective, a 3-way NLI classifier over (u, v, |u - v|)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.api import SBERT_CITATION, Loss


@dataclass(frozen=True)
class Params:
    num_labels: int = field(default=3, metadata={"help": "classes of the pair-class labels (NLI: 3)"})
    concatenation_sent_multiplication: bool = field(default=False, metadata={"help": "also feed u * v to the classifier"})


class SoftmaxLoss(Loss):
    summary = "Softmax loss (SBERT): classify entailment / neutral / contradiction from (u, v, |u-v|)"
    Params = Params
    expects = ("pair-class",)
    default_data = ("nli",)
    default_eval = ("stsb",)
    citation = SBERT_CITATION  # the SBERT paper introduced it

    def num_labels(self) -> int | None:
        return self.params.num_labels

    def build(self, model: Any) -> Any:
        from sentence_transformers.sentence_transformer.losses import SoftmaxLoss as STSoftmaxLoss

        return STSoftmaxLoss(
            model,
            embedding_dimension=model.get_embedding_dimension(),
            num_labels=self.params.num_labels,
            concatenation_sent_multiplication=self.params.concatenation_sent_multiplication,
        )
