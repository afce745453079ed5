"""CosineSimilarityLoss: regress the cosine of two embeddings onto a 0-1 similarity score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubembed.api import SBERT_CITATION, Loss


@dataclass(frozen=True)
class Params:
    pass


class CosineLoss(Loss):
    summary = "Cosine similarity loss: MSE between cos(u, v) and a 0-1 score (entailment = 1, else 0 from NLI)"
    Params = Params
    expects = ("pair-score",)
    default_data = ("nli",)
    default_eval = ("stsb",)
    citation = SBERT_CITATION  # the SBERT paper introduced it

    def build(self, model: Any) -> Any:
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

        return CosineSimilarityLoss(model)
