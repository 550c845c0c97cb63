"""The import graph of ``flxtrd``: read from every module's AST, it has no cycle and no upward edge.

Every import that runs counts, function-local ones included: a circle kept alive by a late
import is still a circle (two modules that cannot be understood, or moved, one without the
other). Imports under ``if TYPE_CHECKING:`` are left out: they name types for annotations and
never run. The layers (``LAYERS``, bottom first) are the ones ``docs/architecture.md`` draws.
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


#: The layers, bottom first: a module may import its own layer and the ones below, never above.
#: A module belongs to the layer of its longest listed prefix; within the protocol layer the
#: three sides (REST, AMQP, streams) do not import each other.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("leaves", (
        "flxtrd._accounts", "flxtrd._alias", "flxtrd._backoff", "flxtrd._bounds",
        "flxtrd._cli_args", "flxtrd._config", "flxtrd._defaults", "flxtrd._errors",
        "flxtrd._exit_codes", "flxtrd._line_protocol", "flxtrd._log", "flxtrd._retry",
        "flxtrd._types", "flxtrd._validation",
        "flxtrd._compat._config", "flxtrd._compat._console", "flxtrd._compat._protocols",
        "flxtrd._compat._utils",
    )),
    ("sandbox", ("flxtrd.sandbox",)),
    ("protocols", ("flxtrd._rest", "flxtrd._compat._auth", "flxtrd._amqp", "flxtrd._streams")),
    ("clients", ("flxtrd._client", "flxtrd._compat._client")),
    ("trading", ("flxtrd._trading",)),
    ("fleet", ("flxtrd._fleet",)),
    ("command line", ("flxtrd._cli", "flxtrd.sandbox._cli")),
    ("public faces", (
        "flxtrd", "flxtrd.__main__", "flxtrd._compat", "flxtrd.core", "flxtrd.frames",
        "flxtrd.protocols", "flxtrd.utils",
    )),
)  # fmt: skip
#: The protocol layer's sides: ``_compat._auth`` is 0.2.9's login mixed into REST auth.
PROTOCOL_SIDES = {
    "flxtrd._rest": "REST", "flxtrd._compat._auth": "REST",
    "flxtrd._amqp": "AMQP", "flxtrd._streams": "streams",
}  # fmt: skip
#: The sandbox's servers; its engine (every other sandbox module) never imports one.
SANDBOX_SERVERS = frozenset(
    f"flxtrd.sandbox.{name}"
    for name in (
        "_app", "_app_accounts", "_app_deals", "_app_orders", "_app_request", "_app_response",
        "_app_schema", "_app_streams", "_broker", "_broker_confirms", "_broker_link",
        "_broker_owner", "_broker_stats", "_broker_wire", "_cli", "_embedded",
        "_http_head_timeout", "_http_limits", "_rabbitmq", "_served", "_stream_hub",
    )
)  # fmt: skip


def _placement(module: str) -> tuple[int, str] | None:
    """(layer index, matching prefix) of ``module``: its longest listed prefix, or ``None``."""
    best: tuple[int, str] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # "flxtrd" is the package's face alone, not every module under it
            inside = module == prefix or (prefix != "flxtrd" and module.startswith(prefix + "."))
            if inside and (best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    return best


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every edge of ``graph`` that breaks the layering, and every module no layer holds."""
    problems: list[str] = []
    for module in sorted(graph):
        here = _placement(module)
        if here is None:
            problems.append(f"{module} is in no layer (add it to LAYERS)")
            continue
        for target in sorted(graph[module]):
            there = _placement(target)
            if there is None:
                continue  # reported as its own module
            if there[0] > here[0]:
                problems.append(
                    f"{module} ({LAYERS[here[0]][0]}) imports {target} ({LAYERS[there[0]][0]})"
                )
            sides = PROTOCOL_SIDES.get(here[1]), PROTOCOL_SIDES.get(there[1])
            if None not in sides and sides[0] != sides[1]:
                problems.append(f"{module} ({sides[0]}) imports {target} ({sides[1]})")
            engine = module.startswith("flxtrd.sandbox.") and module not in SANDBOX_SERVERS
            if engine and target in SANDBOX_SERVERS:
                problems.append(f"sandbox engine {module} imports server {target}")
    return problems


def test_layer_checker_reports_upward_sideways_and_unplaced_modules() -> None:
    """The checker itself: an upward edge, a REST->AMQP edge, an engine->server edge, a stray."""
    graph = {
        "flxtrd._errors": {"flxtrd._client._client"},
        "flxtrd._rest._http": {"flxtrd._amqp._api", "flxtrd._errors"},
        "flxtrd.sandbox._engine": {"flxtrd.sandbox._app"},
        "flxtrd._stray": set(),
        "flxtrd._client._client": {"flxtrd._rest._http"},
    }
    assert layer_violations(graph) == [
        "flxtrd._errors (leaves) imports flxtrd._client._client (clients)",
        "flxtrd._rest._http (REST) imports flxtrd._amqp._api (AMQP)",
        "flxtrd._stray is in no layer (add it to LAYERS)",
        "sandbox engine flxtrd.sandbox._engine imports server flxtrd.sandbox._app",
    ]


def test_flxtrd_imports_only_downward() -> None:
    """Every flxtrd module sits in a layer and imports only its own layer and those below."""
    assert layer_violations(import_graph()) == []
