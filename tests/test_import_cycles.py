"""No import cycles among solvent's modules, counting imports inside functions too.

A cycle makes import order matter and hides a layering mistake inside a package; a
function-level import that closes a cycle only postpones it to the first call.
"""

from __future__ import annotations

from pathlib import Path

from test_layering import SRC, imported_modules


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the solvent modules it imports (a ``from pkg import name`` naming a submodule
    is an import of that submodule; importing ``a.b.c`` also runs ``a.b``'s ``__init__``)."""
    paths = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges: set[str] = set()
        for target in imported_modules(path, names=True):
            while target not in paths and "." in target:
                target = target.rsplit(".", 1)[0]  # ``from a.b import f``: f is not a module
            parts = target.split(".")
            edges.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        edges.discard(name)
        # A package's own __init__ runs before its submodules: not an edge back to it.
        graph[name] = {e for e in edges if e in paths and not name.startswith(e + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in sorted(graph):
        if root in state:
            continue
        stack: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                path = [n for n, _ in stack]
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                state[nxt] = 1
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_sees_function_level_and_submodule_imports() -> None:
    graph = import_graph()
    assert "solvent.pricing.black76_compiled" in graph["solvent.pricing.black76"]  # in a function
    assert {"solvent.margin", "solvent.margin.protocol"} <= graph["solvent.engine.margin"]


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
