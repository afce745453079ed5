"""LoRA fine-tuning through PEFT: a small adapter on the transformer's attention, trained by the core's runner
(hubembed.training) like a full fine-tune, at its own learning rate; the base weights stay frozen.

The output folder holds the adapter (adapter_config.json + adapter_model.safetensors, plus the
sentence-transformers modules), which `SentenceTransformer(folder_or_repo)` loads on top of the base model the
adapter names; `merge: true` (`--merge`) also writes `merged/`, a full model with the adapter folded in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubembed.api import ConfigError, Flag, Trainer, TrainJob

# Attention projections to adapt, per transformers `model_type`: embedding architectures first, then PEFT's own
# table (peft.utils.constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING) for everything else.
TARGETS: dict[str, list[str]] = {
    "bert": ["query", "key", "value"],
    "roberta": ["query", "key", "value"],
    "xlm-roberta": ["query", "key", "value"],
    "camembert": ["query", "key", "value"],
    "electra": ["query", "key", "value"],
    "mpnet": ["q", "k", "v"],
    "distilbert": ["q_lin", "k_lin", "v_lin"],
    "deberta-v2": ["query_proj", "key_proj", "value_proj"],
    "modernbert": ["Wqkv"],
    "nomic_bert": ["Wqkv"],
    "new": ["qkv_proj"],  # Alibaba-NLP gte-*-v1.5
    "t5": ["q", "k", "v"],
    "mt5": ["q", "k", "v"],
}
MERGED = "merged"


@dataclass(frozen=True)
class Params:
    r: int = field(default=8, metadata={"help": "rank of the LoRA update matrices"})
    alpha: int = field(default=16, metadata={"help": "LoRA scaling: the update is multiplied by alpha / r"})
    dropout: float = field(default=0.1, metadata={"help": "dropout on the LoRA branch"})
    target_modules: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "names of the linear layers to adapt (e.g. [query, value]); null: detected from the architecture"},
    )
    lr_multiplier: float = field(
        default=10.0, metadata={"help": "the adapter trains at training.lr times this (LoRA wants a higher rate than a full fine-tune)"}
    )
    merge: bool = field(default=False, metadata={"help": "also write merged/: the base model with the adapter folded in"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "clip gradients to this norm"})

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"r must be at least 1, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class LoraTrainer(Trainer):
    summary = "LoRA adapter (PEFT) on the transformer's attention; saves the small adapter, optionally a merged model"
    Params = Params
    citation = """@inproceedings{hu2022lora,
    title = {LoRA: Low-Rank Adaptation of Large Language Models},
    author = {Edward J. Hu and Yelong Shen and Phillip Wallis and Zeyuan Allen-Zhu and Yuanzhi Li and Shean Wang and Lu Wang and Weizhu Chen},
    booktitle = {International Conference on Learning Representations}, year = {2022}
}"""

    flags = (Flag("--merge", "also write merged/, the base model with the adapter folded in", param="merge"),)

    @classmethod
    def check_params(cls, workdir: Path) -> dict[str, Any]:
        return {"merge": True}

    @classmethod
    def environment_problem(cls) -> str | None:
        """transformers adds and loads adapters only with a recent enough peft (5.24 wants peft 0.22)."""
        import importlib.metadata as md

        from packaging.version import Version

        try:
            from transformers.integrations.peft import MIN_PEFT_VERSION
        except ImportError:  # a transformers without the constant checks nothing
            return None
        installed, transformers = md.version("peft"), md.version("transformers")
        if Version(installed) >= Version(MIN_PEFT_VERSION):
            return None
        return (
            f"LoRA cannot run here: transformers {transformers} works with adapters only from peft {MIN_PEFT_VERSION} "
            f"on, and peft {installed} is installed; fix: pip install 'peft>={MIN_PEFT_VERSION}' (if that is not "
            f"released yet: pip install 'transformers<{transformers}')"
        )

    def prepare_model(self, model: Any) -> Any:
        from peft import LoraConfig, TaskType

        problem = self.environment_problem()
        if problem:
            raise ConfigError(problem)
        hf = _transformer_of(model)
        config = LoraConfig(
            task_type=TaskType.FEATURE_EXTRACTION, r=self.params.r, lora_alpha=self.params.alpha,
            lora_dropout=self.params.dropout, target_modules=self.targets(hf),
        )
        model.add_adapter(config)  # targets() has checked the layers exist; any other error is reported as itself
        return model

    def targets(self, hf: Any) -> list[str]:
        """The override, else the layers known for the architecture; one clear line when neither fits."""
        model_type = getattr(hf.config, "model_type", "?")
        available = linear_names(hf)
        if self.params.target_modules:
            wanted = list(self.params.target_modules)
            full = [name for name, _ in hf.named_modules()]
            missing = [t for t in wanted if not any(n == t or n.endswith("." + t) for n in full)]
            if missing:
                raise ConfigError(
                    f"LoRA target module(s) {', '.join(missing)} not in this {model_type} model; "
                    f"set --set trainer.target_modules=[...] to some of: {', '.join(available[:12])}"
                )
            return wanted
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

        known = TARGETS.get(model_type) or PEFT_TARGETS.get(model_type)
        if not isinstance(known, list) or not set(known) & set(available):
            raise ConfigError(
                f"LoRA does not know which layers to adapt in a {model_type} model; name them with "
                f"--set trainer.target_modules=[...] (its linear layers: {', '.join(available[:12]) or 'none'})"
            )
        return [t for t in known if t in available]

    def arguments(self, job: TrainJob) -> dict[str, Any]:
        """The adapter's learning rate (weight_decay and max_grad_norm, named like training arguments, the runner
        passes itself); the runner asks once, as training starts, so the adapter is described here."""
        lr = job.training.lr * self.params.lr_multiplier
        targets = ", ".join(sorted(_adapter_config(job.model).target_modules))
        job.log(f"LoRA r={self.params.r} alpha={self.params.alpha} on {targets}; lr {lr:g}")
        return {"learning_rate": lr}

    def save(self, job: TrainJob, folder: Path) -> dict[str, Any]:
        """The adapter in `folder` (naming the base by Hub id and revision when it has one), and with `merge` a full
        model in `folder/merged` whose embeddings equal the adapter model's."""
        model = job.model
        config = _adapter_config(model)
        local_base = config.base_model_name_or_path
        model.save(str(folder), create_model_card=False)
        adapter_file = folder / "adapter_model.safetensors"
        if job.base_model_id:  # portable: a pushed adapter loads its base from the Hub, pinned to the revision
            path = folder / "adapter_config.json"
            saved = json.loads(path.read_text(encoding="utf-8"))
            saved["base_model_name_or_path"] = job.base_model_id
            if job.base_revision and re.fullmatch(r"[0-9a-f]{40}", job.base_revision):  # PEFT loads the base at it
                saved["revision"] = job.base_revision
            path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        facts: dict[str, Any] = {
            "format": "lora-adapter",
            "base_model": {"id": job.base_model_id or local_base, "revision": job.base_revision},
            "adapter": {
                "file": adapter_file.name,
                "bytes": adapter_file.stat().st_size,
                "r": config.r,
                "alpha": config.lora_alpha,
                "dropout": config.lora_dropout,
                "target_modules": sorted(config.target_modules),
            },
            "merged": None,
        }
        if self.params.merge:
            facts["merged"] = merge(model, local_base, folder, folder / MERGED)
        return facts

    def weights_note(self, weights: dict[str, Any], folder: Path) -> str | None:
        """The adapter's size and share of the weights, the base it applies to, and where the merged model is."""
        base = weights["base_model"]
        on = base["id"] + (f"@{base['revision']}" if base.get("revision") else "")
        merged = f"; merged model: {folder}/{weights['merged']['path']}/" if weights.get("merged") else ""
        return (f"a LoRA adapter ({_size(weights['adapter']['bytes'])}, {weights['trainable_share']:.2%} of the "
                f"weights trained) on {on}{merged}")


def merge(model: Any, base: str, adapter_folder: Path, out: Path) -> dict[str, Any]:
    """Fold the adapter saved in `adapter_folder` into a fresh copy of `base` with PEFT's merge_and_unload, save
    it to `out` and check it embeds like the adapter model."""
    import numpy as np
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer

    merged = SentenceTransformer(str(base), device="cpu")
    transformer = merged[0]
    transformer.model = PeftModel.from_pretrained(transformer.model, str(adapter_folder)).merge_and_unload()
    merged.save(str(out), create_model_card=False)
    probe = ["A man is playing a guitar.", "The stock market fell sharply today.", "hubembed merges LoRA adapters"]
    was_training = model.training
    model.eval()
    diff = float(np.abs(SentenceTransformer(str(out), device="cpu").encode(probe) - model.encode(probe)).max())
    model.train(was_training)
    if diff > 1e-4:
        raise RuntimeError(f"the merged model's embeddings differ from the adapter model's by {diff:.2e}")
    size = sum(f.stat().st_size for f in out.rglob("*.safetensors"))
    return {"path": MERGED, "bytes": size, "max_abs_diff": diff}


def _transformer_of(model: Any) -> Any:
    hf = getattr(model, "transformers_model", None)
    if hf is None or not hasattr(model, "add_adapter"):
        raise ConfigError("LoRA needs a model with a transformers module; use --trainer full for this model")
    return hf


def _adapter_config(model: Any) -> Any:
    return model.transformers_model.peft_config["default"]


ADAPTABLE = {"Linear", "Conv1D", "Conv1d", "Conv2d", "Conv3d", "Embedding", "MultiheadAttention"}  # what LoRA wraps


def linear_names(hf: Any) -> list[str]:
    """Distinct last names of the layers of a transformers model that LoRA can wrap (what `target_modules` names)."""
    names: list[str] = []
    for name, module in hf.named_modules():
        if type(module).__name__ in ADAPTABLE and name:
            last = name.rsplit(".", 1)[-1]
            if last not in names:
                names.append(last)
    return names


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.1f} KB"
