"""TSDAE: an encoder embeds a damaged sentence, a decoder must rebuild the original from that one vector."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hubembed.api import ConfigError, Loss


@dataclass(frozen=True)
class Params:
    pooling: Literal["cls", "keep"] = field(
        default="cls", metadata={"help": "cls: switch the model to [CLS] pooling as TSDAE does; keep: leave the model's pooling"}
    )
    tie_encoder_decoder: bool = field(
        default=True, metadata={"help": "share the encoder's weights with the decoder (TSDAE default; halves memory)"}
    )
    decoder: str = field(
        default="", metadata={"help": "decoder model folder when not tied (empty: the encoder's own transformer)"}
    )


class TSDAELoss(Loss):
    summary = "TSDAE denoising auto-encoder loss (unsupervised): rebuild the sentence from the embedding of a damaged copy"
    Params = Params
    expects = ("denoising",)
    default_data = ("denoise",)
    default_eval = ("stsb",)
    citation = """@inproceedings{wang-2021-TSDAE,
    title = "TSDAE: Using Transformer-based Sequential Denoising Auto-Encoder for Unsupervised Sentence Embedding Learning",
    author = "Wang, Kexin and Reimers, Nils and Gurevych, Iryna",
    booktitle = "Findings of EMNLP 2021", year = "2021", url = "https://arxiv.org/abs/2104.06979"
}"""

    def prepare_model(self, model: Any) -> Any:
        """[CLS] pooling: mean pooling would let the decoder read position-free averages (TSDAE, section 4)."""
        if self.params.pooling == "keep":
            return model
        from sentence_transformers.sentence_transformer.modules import Pooling

        for i, module in enumerate(model):
            if isinstance(module, Pooling):
                if module.pooling_mode != "cls":
                    model[i] = Pooling(module.get_embedding_dimension(), "cls")
                return model
        raise ConfigError("tsdae: the model has no Pooling module to switch to [CLS]; use --set loss.pooling=keep")

    def build(self, model: Any) -> Any:
        from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

        decoder = self._decoder_path(model)
        return DenoisingAutoEncoderLoss(
            model, decoder_name_or_path=decoder, tie_encoder_decoder=self.params.tie_encoder_decoder
        )

    def _decoder_path(self, model: Any) -> str | None:
        """A folder the decoder (BertLMHeadModel & co.) can load from offline.

        Tied, sentence-transformers reloads the encoder's own `config._name_or_path`; when that is not a local folder
        (a Hub id, a deleted temporary folder) we save the transformer to a temporary folder and point there."""
        import tempfile
        from pathlib import Path

        if not self.params.tie_encoder_decoder:
            if not self.params.decoder:
                raise ConfigError("tsdae: an untied decoder needs a model folder: --set loss.decoder=PATH")
            return self.params.decoder
        hf = model.transformers_model
        source = hf.config._name_or_path
        if source and Path(source).is_dir() and (Path(source) / "config.json").exists():
            return None
        folder = tempfile.mkdtemp(prefix="hubembed-tsdae-decoder-")
        hf.save_pretrained(folder)
        model.tokenizer.save_pretrained(folder)
        hf.config._name_or_path = folder
        return None
