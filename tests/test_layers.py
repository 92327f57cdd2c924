"""The packages of envdoctor depend on each other one way: no import cycle between them, lazy
imports inside functions included (a lazy import hides a cycle, it does not remove it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "envdoctor"


def _unit(module: str) -> str:
    """The layer a module belongs to: its subpackage, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(part for part in relative.parts if part != "__init__")
        unit = _unit(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.startswith("envdoctor.") and _unit(name) != unit:
                    graph.setdefault(unit, set()).add(_unit(name))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            found = visit(target)
            if found:
                return found
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start)
        if found:
            return found
    return None


def test_the_packages_depend_on_each_other_one_way() -> None:
    cycle = _cycle(_imports())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_rules_and_what_they_read_sit_below_the_audit_that_runs_them() -> None:
    graph = _imports()
    assert "audit" not in graph.get("rules", set())
    assert "rules" not in graph.get("lock", set()), "lock reports a resolver failure without running a rule"
    assert "report" not in graph.get("audit", set()), "the audit's result type lives in the audit, not in report/"
