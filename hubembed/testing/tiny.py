"""A tiny BERT sentence-transformer built locally in a second, for tests of hubembed and of plugins.

Real architecture, real tokenizer (WordPiece over the words of the bundled data), random weights: training
changes its embeddings in milliseconds, and nothing is downloaded.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab(size: int) -> list[str]:
    from hubembed.bundled import read_stsb

    s1, s2, _ = read_stsb("dev")
    words = Counter(w for text in s1 + s2 for w in re.findall(r"[a-z]+|[0-9]+|[^\sa-z0-9]", text.lower()))
    chars = sorted({c for w in words for c in w})
    pieces = [f"##{c}" for c in chars]
    return SPECIAL + chars + pieces + [w for w, _ in words.most_common(size) if w not in chars]


def build_tiny_model(folder: str | Path, hidden: int = 32, layers: int = 2, vocab_size: int = 1500, seed: int = 0) -> str:
    """Save a tiny BERT sentence-transformer (mean pooling) into `folder`; return the folder as a str."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    bert_dir = folder / "_bert"
    bert_dir.mkdir(parents=True, exist_ok=True)
    vocab = _vocab(vocab_size)
    (bert_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(str(bert_dir / "vocab.txt"), do_lower_case=True, model_max_length=128).save_pretrained(bert_dir)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=hidden * 2, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(bert_dir)
    transformer = Transformer(str(bert_dir), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(hidden, "mean")])
    model.save(str(folder), create_model_card=False)
    import shutil

    shutil.rmtree(bert_dir)
    return str(folder)
