"""`hubembed plugins new KIND NAME`: generate a pip-installable plugin package that passes its own tests at once.

    hubembed plugins new loss acme-focal
    -> hubembed-acme-focal/               distribution hubembed-acme-focal, import hubembed_acme_focal
         pyproject.toml                   the entry point: [project.entry-points."hubembed.losses"] "acme.focal.v1"
         README.md                        install, use, params, test, versioning
         src/hubembed_acme_focal/         the plugin class (FocalLoss in loss.py; its torch module in modeling.py)
         tests/test_hubembed_acme_focal.py   hubembed.testing's contract check + the plugin's own tests

NAME is `<owner>-<thing>` (or pass --owner): the owner is the first part of the registered name
`<owner>.<thing>.v1` (your PyPI user or organisation); `hubembed` is reserved for the built-ins. The templates are
files in `hubembed/scaffold_templates/` (shipped in the wheel), filled with `string.Template`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

from hubembed.errors import ConfigError, OutputExistsError
from hubembed.registry import GROUPS, NAME_RE, RESERVED_OWNER
from hubembed.types import KINDS

PART = r"[a-z][a-z0-9]*"
NAME_ARG_RE = re.compile(rf"^{PART}(-[a-z0-9]+)*$")
SUFFIX = {"data": "Builder", "loss": "Loss", "trainer": "Trainer", "evaluator": "Evaluator"}
MODULE = {"data": "data", "loss": "loss", "trainer": "trainer", "evaluator": "evaluator"}
SUMMARY = {
    "data": "Question/answer pairs from a JSON Lines file as (anchor, positive) pairs",
    "loss": "Symmetric in-batch contrastive loss (InfoNCE) on pairs or triplets",
    "trainer": "Fine-tune with the word embeddings frozen, through SentenceTransformerTrainer",
    "evaluator": "Retrieval of each anchor's positive among all positives of a csv file (nDCG@10)",
}
PARAMS_DOC = {
    "data": "- `path` (str): JSON Lines file, one object per line\n- `query_field` / `answer_field` (str): the fields "
    "holding the anchor and the positive\n- `limit` (int or null): keep at most this many pairs",
    "loss": "- `scale` (float, 20.0): inverse temperature applied to the cosine similarities\n- `symmetric` (bool, "
    "true): also rank anchors given their positive",
    "trainer": "- `freeze_embeddings` (bool, true): keep the word-embedding matrix fixed\n- `weight_decay` (float, "
    "0.01): AdamW weight decay",
    "evaluator": "- `path` (str): csv file with `anchor,positive` columns\n- `name` (str): dataset name on the card",
}


@dataclass(frozen=True)
class PluginNames:
    kind: str
    owner: str
    short: str  # the middle part of the pinned name (its short name)
    thing: str  # NAME without a leading hubembed-

    @property
    def dist(self) -> str:
        return f"hubembed-{self.thing}"

    @property
    def package(self) -> str:
        return self.dist.replace("-", "_")

    @property
    def pinned(self) -> str:
        return f"{self.owner}.{self.short}.v1"

    @property
    def cls(self) -> str:
        camel = "".join(part.capitalize() for part in re.split(r"[-_]", self.short))
        suffix = SUFFIX[self.kind]
        return camel if camel.endswith(suffix) else camel + suffix


def names(kind: str, name: str, owner: str | None = None) -> PluginNames:
    """Work out distribution, import package, pinned name and class name; one clear error for bad input."""
    if kind not in KINDS:
        raise ConfigError(f"plugin kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    thing = name.lower().removeprefix("hubembed-")
    if not NAME_ARG_RE.match(thing):
        raise ConfigError(f"plugin name {name!r}: use lowercase words joined by '-', e.g. acme-focal")
    if owner is None:
        if "-" not in thing:
            raise ConfigError(f"plugin name {name!r} has no owner: write OWNER-NAME (e.g. acme-{thing}) or pass --owner")
        owner, short = thing.split("-", 1)
    else:
        short = thing.removeprefix(f"{owner}-") if thing != owner else thing
    if not re.match(rf"^{PART}$", owner or ""):
        raise ConfigError(f"owner {owner!r}: use one lowercase word (your PyPI user or organisation), e.g. acme")
    if owner == RESERVED_OWNER:
        raise ConfigError(f"the owner {RESERVED_OWNER!r} is reserved for hubembed's built-ins; use your own, e.g. acme-{short}")
    result = PluginNames(kind, owner, short, thing)
    assert NAME_RE.match(result.pinned), result.pinned
    return result


def _usage(n: PluginNames) -> str:
    owner_short = f"{n.owner}.{n.short}"
    return {
        "data": f"hubembed train --plugin mnr --data {owner_short} --set data.path=faq.jsonl",
        "loss": f"hubembed train --plugin {owner_short}                      # its default data (nli) and eval (stsb)\n"
        f"hubembed train --plugin {owner_short} --set loss.scale=30 --data pairs.csv",
        "trainer": f"hubembed train --plugin mnr --trainer {owner_short} --set trainer.freeze_embeddings=false",
        "evaluator": f"hubembed train --plugin mnr --eval stsb --eval {owner_short}:pairs.csv    # NAME:VALUE sets its first param, path",
    }[n.kind]


def render(n: PluginNames) -> dict[str, str]:
    """Relative path -> text of every file of the package."""
    from hubembed import __version__

    major_minor = ".".join(__version__.split(".")[:2])
    values = {
        "dist": n.dist,
        "pkg": n.package,
        "owner": n.owner,
        "short": n.short,
        "pinned": n.pinned,
        "cls": n.cls,
        "kind": n.kind,
        "kind_option": n.kind,
        "group": GROUPS[n.kind],
        "module": MODULE[n.kind],
        "summary": SUMMARY[n.kind],
        "hubembed_req": f"hubembed>={major_minor}",
        "usage": _usage(n),
        "params_doc": PARAMS_DOC[n.kind],
        # an evaluator is one of several --eval steps: address it by position (eval.1.path for the second)
        "set_prefix": {"data": "data", "loss": "loss", "trainer": "trainer", "evaluator": "eval.N"}[n.kind],
        "check": {"data": "data_builder"}.get(n.kind, n.kind),
    }
    templates = files("hubembed") / "scaffold_templates"

    def fill(template: str) -> str:
        return Template((templates / template).read_text(encoding="utf-8")).substitute(values)

    src = f"src/{n.package}"
    out = {
        "pyproject.toml": fill("pyproject.toml.tmpl"),
        "README.md": fill("README.md.tmpl"),
        f"{src}/__init__.py": fill("__init__.py.tmpl"),
        f"{src}/{MODULE[n.kind]}.py": fill(f"{n.kind}.py.tmpl"),
        f"tests/test_{n.package}.py": fill(f"test_{n.kind}.py.tmpl"),
    }
    if n.kind == "loss":
        out[f"{src}/modeling.py"] = fill("loss_modeling.py.tmpl")
    return out


def generate(kind: str, name: str, directory: str | Path = ".", owner: str | None = None) -> tuple[Path, PluginNames]:
    """Write the package into DIRECTORY/hubembed-NAME; all files appear at once or none do."""
    n = names(kind, name, owner)
    target = Path(directory) / n.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputExistsError(f"{target} already exists; choose another --dir or remove it")
    content = render(n)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{n.dist}.", dir=target.parent))
    try:
        for rel, text in content.items():
            path = stage / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.chmod(stage, 0o755)  # mkdtemp makes it private
        if target.exists():
            target.rmdir()
        stage.rename(target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return target, n
