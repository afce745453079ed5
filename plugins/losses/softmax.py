"""SoftmaxLoss: the original SBERT objective, a 3-way NLI classifier over (u, v, |u - v|)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hubembed.types import Loss


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
    citation = """@inproceedings{reimers-2019-sentence-bert,
    title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
    author = "Reimers, Nils and Gurevych, Iryna",
    booktitle = "Proceedings of EMNLP-IJCNLP", year = "2019", url = "https://arxiv.org/abs/1908.10084"
}"""

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
