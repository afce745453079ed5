"""A tiny BERT sentence-transformer built locally in a second, for tests of hubembed and of plugins.

Real architecture, real tokenizer (WordPiece over the words of the bundled data), random weights: training
changes its embeddings in milliseconds, and nothing is downloaded.

    python -m hubembed.testing.tiny DIR      # build it into DIR (new or empty) and print DIR
    hubembed train --plugin mnr --model DIR ...
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


USAGE = "python -m hubembed.testing.tiny DIR  (builds the tiny model into DIR, a new or empty folder, and prints DIR)"


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args in (["-h"], ["--help"]):
        print(f"usage: {USAGE}")
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        print(f"error: give one folder: {USAGE}", file=sys.stderr)
        return 2
    folder = Path(args[0])
    if folder.exists() and not folder.is_dir():
        print(f"error: {folder} is a file; give a new or empty folder", file=sys.stderr)
        return 2
    if folder.is_dir() and any(folder.iterdir()):  # never mix the model's files with what is there
        print(f"error: {folder} is not empty; give a new or empty folder", file=sys.stderr)
        return 2
    print(build_tiny_model(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
