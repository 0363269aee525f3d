"""webapp/ reads in one sitting: no module over 400 lines, no function or method over 80; test modules share
through tests/helpers.py, not each other."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_LIMIT = 400
FUNCTION_LIMIT = 80


def function_sizes(source: str) -> dict[str, int]:
    """Lines of each function in `source` (methods and nested functions too, decorators not), by dotted name."""
    sizes: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    assert child.end_lineno is not None
                    size = child.end_lineno - child.lineno + 1
                    sizes[name] = max(size, sizes.get(name, 0))  # a redefinition (a property's setter) counts too
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return sizes


def sizes() -> dict[str, int]:
    """Every module of webapp/ (`path`) and every function in it (`path::name`), with its lines."""
    found: dict[str, int] = {}
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        found[module] = len(source.splitlines())
        found |= {f"{module}::{name}": size for name, size in function_sizes(source).items()}
    return found


def limit(name: str) -> int:
    return FUNCTION_LIMIT if "::" in name else MODULE_LIMIT


def test_no_module_or_function_is_over_its_limit() -> None:
    over = {name: size for name, size in sizes().items() if size > limit(name)}
    assert not over, f"over {MODULE_LIMIT} lines (a module) or {FUNCTION_LIMIT} (a function): split them: {over}"


def imported_modules(source: str) -> set[str]:
    """The modules `source` imports, by their dotted names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_no_test_module_imports_another() -> None:
    importing = {
        path.name: sorted(name for name in imported_modules(path.read_text(encoding="utf-8")) if ".test_" in name)
        for path in sorted((ROOT / "tests").glob("test_*.py"))
    }
    assert not {name: found for name, found in importing.items() if found}, "move what they share to tests/helpers.py"


def test_methods_nested_functions_and_async_ones_are_measured_without_decorators() -> None:
    source = textwrap.dedent(
        '''
        @decorated
        def outer():
            def inner():
                return 1
            return inner


        class Area:
            async def handler(self):
                """One line."""
                await work()
                return None
        '''
    )
    assert function_sizes(source) == {"outer": 4, "outer.inner": 2, "Area.handler": 4}
