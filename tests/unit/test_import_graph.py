"""The import graph of ``flxtrd``: read from every module's AST, it has no cycle.

Every import that runs counts, function-local ones included: a circle kept alive by a late
import is still a circle (two modules that cannot be understood, or moved, one without the
other). Imports under ``if TYPE_CHECKING:`` are left out: they name types for annotations and
never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import flxtrd

PACKAGE = Path(flxtrd.__file__).resolve().parent
TYPE_CHECKING_TESTS = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}


def _module_name(path: Path, package: Path) -> str:
    parts = ["flxtrd", *path.relative_to(package).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under an ``if TYPE_CHECKING:``."""
    nodes: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING_TESTS:
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each ``flxtrd`` module -> the ``flxtrd`` modules it imports (anywhere in its body)."""
    modules = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    stem = ".".join([*base, node.module] if node.module else base)
                else:
                    stem = node.module or ""
                # ``from pkg import sub`` imports the submodule, ``from mod import name`` the module
                subs = {f"{stem}.{alias.name}" for alias in node.names} & modules.keys()
                targets.update(subs if len(subs) == len(node.names) else {stem, *subs})
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` when it has none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_find_cycle_reports_a_cycle_and_passes_a_tree() -> None:
    """The checker itself: a three-module circle is found, a diamond is not a cycle."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None


def test_import_graph_reads_function_local_imports(tmp_path: Path) -> None:
    """An import inside a function body is an edge of the graph like a top-level one."""
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "_a.py").write_text("def f():\n    from flxtrd._b import x\n")
    (tmp_path / "_b.py").write_text("from flxtrd import _a\n")
    (tmp_path / "_c.py").write_text("if TYPE_CHECKING:\n    from flxtrd._a import x\n")
    graph = import_graph(tmp_path)
    assert graph["flxtrd._a"] == {"flxtrd._b"}
    assert graph["flxtrd._c"] == set()
    assert find_cycle(graph) == ["flxtrd._a", "flxtrd._b", "flxtrd._a"]


def test_flxtrd_has_no_import_cycle() -> None:
    """No module of flxtrd imports, however late, a module that imports it back."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
