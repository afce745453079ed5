"""Import rules, checked on the source: the core stays cheap to import and plugins use only the public API."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "sentence_transformers", "transformers", "datasets", "peft", "accelerate", "mteb", "numpy", "matplotlib"}
PLUGIN_API = {"hubembed.types", "hubembed.errors", "hubembed.testing", "hubembed.datafiles"}  # datafiles: the readers builders share
# (module, may import at top level): lower layers never import higher ones
LAYERS = [
    {"hubembed.errors", "hubembed.types"},
    {"hubembed.registry", "hubembed.config", "hubembed.compat", "hubembed.datafiles", "hubembed.bundled", "hubembed.hardware",
     "hubembed.outputs", "hubembed.checkpoints"},
    {"hubembed.models", "hubembed.card", "hubembed.hub", "hubembed.launch", "hubembed.plots"},
    {"hubembed.pipeline"},
    {"hubembed.cli"},
]


def top_level_imports(path: Path) -> set[str]:
    """Modules imported when the file is imported (not inside functions or TYPE_CHECKING blocks)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(folder: str):
    return sorted((REPO / folder).rglob("*.py"))


def test_nothing_heavy_at_import_time():
    for path in sources("hubembed") + sources("plugins"):
        heavy = {m for m in top_level_imports(path) if m.split(".")[0] in HEAVY}
        assert not heavy, f"{path.relative_to(REPO)} imports {heavy} at module level; import inside the function"


def test_plugins_import_only_the_plugin_api():
    for path in sources("plugins"):
        ours = {m for m in top_level_imports(path) if m.split(".")[0] == "hubembed"}
        assert ours <= PLUGIN_API, f"{path.relative_to(REPO)} imports {ours - PLUGIN_API} at module level"


def test_layers_only_import_downwards():
    def layer(module: str) -> int | None:
        for i, members in enumerate(LAYERS):
            if any(module == m or module.startswith(m + ".") for m in members):
                return i
        return None

    for path in sources("hubembed"):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        own = layer(module)
        if own is None:
            continue
        for imported in top_level_imports(path):
            other = layer(imported)
            assert other is None or other <= own, f"{module} (layer {own}) imports {imported} (layer {other})"
