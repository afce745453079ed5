"""What sentence-transformers' own model card data (`model.model_card_data`, filled by its trainer callbacks) says
about the trained model: the losses and their citations, the training-loss log, token statistics and examples of
the training data, the trainer arguments that differ from the defaults, the architecture. Read once, while the
trained model is in memory, into the run record, so the card can be rendered later without the model; nothing it
says is re-derived by hubembed."""

from __future__ import annotations

import json
import re
from typing import Any, Callable


def read(model: Any, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The parts hubembed's card shows, as JSON values; a model without card data (not a SentenceTransformer
    trained by its trainer) gives what it has, and one logged line says what is missing."""
    out: dict[str, Any] = {}
    data = getattr(model, "model_card_data", None)  # a plugin may hand back a model of another class
    if data is None:
        log("card: the trained model has no sentence-transformers card data (losses, logs, dataset statistics)")
    else:
        out.update(_card_data(data))
    try:
        out["dimensions"] = int(model.get_embedding_dimension())
        out["max_seq_length"] = int(model.max_seq_length)
        out["similarity"] = str(model.similarity_fn_name)
        out["architecture"] = str(model)
    except (AttributeError, TypeError, ValueError) as err:
        log(f"card: no dimensions/architecture section ({type(err).__name__}: {err})")
    return json.loads(json.dumps(out, default=str))


def _card_data(data: Any) -> dict[str, Any]:
    return {
        "citations": {name: text.strip() for name, text in data.citations.items()},
        "losses": [t.split(":", 1)[1] for t in data.tags or [] if t.startswith("loss:")],
        "training_logs": [row for row in data.training_logs if "Training Loss" in row],
        "train_datasets": [
            {
                "size": d.get("size"),
                "columns": [re.sub(r"</?code>", "", c) for c in d.get("columns", [])],
                "stats_table": d.get("stats_table"),
                "examples_table": d.get("examples_table"),
            }
            for d in data.train_datasets or []
        ],
        "hyperparameters": dict(data.non_default_hyperparameters),
    }
