"""CosineSimilarityLoss: regress the cosine of two embeddings onto a 0-1 similarity score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubembed.types import Loss


@dataclass(frozen=True)
class Params:
    pass


class CosineLoss(Loss):
    summary = "Cosine similarity loss: MSE between cos(u, v) and a 0-1 score (entailment = 1, else 0 from NLI)"
    Params = Params
    expects = ("pair-score",)
    default_data = ("nli",)
    default_eval = ("stsb",)
    citation = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of EMNLP-IJCNLP", year = "2019", url = "https://arxiv.org/abs/1908.10084"
}"""

    def build(self, model: Any) -> Any:
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

        return CosineSimilarityLoss(model)
