"""Import rules, checked on the source: the core stays cheap to import, plugins use only the public API
(hubembed.api), lower layers never import higher ones (function-level imports included), production code never
imports the test kit, the core names no built-in plugin, and no function is longer than a screen."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "sentence_transformers", "transformers", "datasets", "peft", "accelerate", "mteb", "numpy", "matplotlib"}
PLUGIN_API = {"hubembed.api"}
# lower layers never import higher ones; hubembed.testing (the test kit) sits outside: it may use anything, and
# production code never imports it
LAYERS = [
    {"hubembed.errors", "hubembed.types"},
    {"hubembed.registry", "hubembed.config", "hubembed.compat", "hubembed.datafiles", "hubembed.bundled", "hubembed.hardware",
     "hubembed.outputs", "hubembed.checkpoints", "hubembed.record", "hubembed.batching", "hubembed.heldout", "hubembed.gate"},
    {"hubembed.models", "hubembed.card", "hubembed.hub", "hubembed.launch", "hubembed.plots", "hubembed.training",
     "hubembed.st_card", "hubembed.localhub", "hubembed.api", "hubembed.scaffold"},
    {"hubembed.pipeline"},
    {"hubembed.cli", "hubembed.__main__"},
]
MAX_FUNCTION_LINES = 60
KIT_USERS = {"hubembed.cli.plugins": "`hubembed plugins check` runs the contract checks of the test kit on purpose",
             "hubembed.api": "the plugin API hands out the test kit's helpers, loaded on first use"}
PROTOCOL_WORDS = {"hubembed.localhub": "the Hub's own API words (e.g. `?full=true`), not plugin names"}
SAME_WORD = {("hubembed.types", "full"): "the weights format of a whole saved model in metrics.json, not the trainer",
             ("hubembed.record", "pairs"): "a count of STSB pairs in version-1 metrics files, not the data builder"}


def top_level_imports(path: Path) -> set[str]:
    """Modules imported when the file is imported (not inside functions or TYPE_CHECKING blocks)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def all_imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth (functions included), but not under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "hubembed":  # `from hubembed import card` imports hubembed.card
                found |= {f"hubembed.{a.name}" for a in node.names if a.name != "__version__"}
    return found


def lazy_imports(path: Path) -> set[str]:
    """Modules a file imports by name at run time (`importlib.import_module("hubembed.x")`, tables of lazy exports):
    string constants that name a hubembed module."""
    modules = {module_name(p) for p in sources("hubembed")}
    return {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant) and n.value in modules}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def production(path: Path) -> bool:
    return "testing" not in path.relative_to(REPO).parts


def sources(folder: str):
    return sorted((REPO / folder).rglob("*.py"))


def test_nothing_heavy_at_import_time():
    for path in sources("hubembed") + sources("plugins"):
        heavy = {m for m in top_level_imports(path) if m.split(".")[0] in HEAVY}
        assert not heavy, f"{path.relative_to(REPO)} imports {heavy} at module level; import inside the function"


def test_plugins_import_only_the_plugin_api():
    for path in sources("plugins"):
        ours = {m for m in all_imports(path) if m.split(".")[0] == "hubembed"}
        assert ours <= PLUGIN_API, f"{path.relative_to(REPO)} imports {ours - PLUGIN_API}; import them from hubembed.api"


def layer(module: str) -> int | None:
    for i, members in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return i
    return None


def test_every_core_module_has_a_layer():
    unplaced = [module_name(p) for p in sources("hubembed") if production(p) and module_name(p) != "hubembed"
                and layer(module_name(p)) is None]
    assert not unplaced, f"put {unplaced} in a layer of LAYERS"


def test_layers_only_import_downwards_even_inside_functions():
    for path in sources("hubembed"):
        module = module_name(path)
        own = layer(module)
        if own is None:
            continue
        for imported in all_imports(path) | lazy_imports(path):
            other = layer(imported)
            assert other is None or other <= own, f"{module} (layer {own}) imports {imported} (layer {other})"


def test_no_import_circle_anywhere():
    """Not even through function-level imports or the test kit: each module's imports form a graph without a cycle."""
    files = {module_name(p): p for p in sources("hubembed")}
    graph = {m: {i for i in all_imports(p) if i in files and i != m} for m, p in files.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(f"import circle: {' -> '.join(path[path.index(module):] + [module])}")
        if module not in done:
            for imported in sorted(graph[module]):
                visit(imported, path + [module])
            done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_production_code_never_imports_the_test_kit():
    for path in sources("hubembed") + sources("plugins"):
        if production(path) and module_name(path) not in KIT_USERS:
            kit = {m for m in all_imports(path) | lazy_imports(path) if m == "hubembed.testing" or m.startswith("hubembed.testing.")}
            assert not kit, f"{path.relative_to(REPO)} imports {kit}; production code uses hubembed.localhub etc."


def builtin_names() -> set[str]:
    """Short and pinned names of the built-in plugins (and their old spellings), from setup.cfg's entry points."""
    import configparser

    from hubembed.registry import OLD_SPELLINGS

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    pinned = [line.split("=")[0].strip() for group, value in cfg["options.entry_points"].items()
              if group.startswith("hubembed.") and group != "hubembed.commands" for line in value.strip().splitlines()]
    shorts = {name.split(".")[1] for name in pinned} | set(OLD_SPELLINGS)
    return shorts | set(pinned) | {f"hubembed.{s}" for s in shorts}


def test_the_core_names_no_builtin_plugin():
    """Plugins answer through hooks; only the registry's list of built-in defaults names them. Docstrings, help
    and messages may mention them (text, not code): a string counts when it is exactly a plugin's name."""
    names = builtin_names()
    for path in sources("hubembed"):
        if not production(path) or module_name(path) in {"hubembed.registry", *PROTOCOL_WORDS}:
            continue
        tree = ast.parse(path.read_text())
        keys = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k is not None}
        keys |= {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}
        hits = [f"line {node.lineno}: {node.value!r}" for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and node.value in names and id(node) not in keys
                and (module_name(path), node.value) not in SAME_WORD]
        assert not hits, f"{path.relative_to(REPO)} names built-in plugins in code ({', '.join(hits)}); add a hook"


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in sources("hubembed") + sources("plugins"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.name} ({lines} lines)")
    assert not long, f"split these functions (over {MAX_FUNCTION_LINES} lines): {', '.join(long)}"
