"""Every test function asserts something: a test that cannot fail reports a guarantee jlic does not have.

An AST walk over ``tests/**/test_*.py`` (the slow tests included): a test function asserts if its body (nested
functions included) has an ``assert``, a ``raise AssertionError``, ``pytest.raises`` / ``pytest.warns`` /
``pytest.fail``, refers to any name starting with ``assert`` (``np.testing.assert_allclose``, passed to
``jax.tree.map`` too), or calls a helper defined under ``tests/`` (in its module, or imported from another
module there) that does, transitively. ``EXCEPTIONS`` lists the tests allowed not to, each with its reason;
it is checked to be exact (an entry that now asserts, or that no longer exists, fails too).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# "path relative to tests/::function": why it asserts nothing (none today)
EXCEPTIONS: dict[str, str] = {}
_CHECKS = {"raises", "warns", "fail", "deprecated_call"}  # pytest.<these>


def _is_check(node: ast.AST) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "AssertionError"
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("assert"):
            return True
        return node.attr in _CHECKS and isinstance(node.value, ast.Name) and node.value.id == "pytest"
    return isinstance(node, ast.Name) and node.id.startswith("assert")


def _referenced_names(fn: ast.AST) -> set[str]:
    """Names a function calls or passes on (``helper(...)``, ``map(helper, ...)``)."""
    return {node.id for node in ast.walk(fn) if isinstance(node, ast.Name)}


def _imports(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """(local name -> imported function name of every ``from X import f [as g]``, module aliases)."""
    names, modules = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for a in node.names:
                names[a.asname or a.name] = a.name
                modules.add(a.asname or a.name)  # `from tests.codec import fast_params` imports a module
        elif isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names, modules


class _Index:
    """Every function defined under ``tests/`` (per module and by name): which ones assert, transitively."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.functions: dict[tuple[str, str], list[ast.AST]] = {}
        self.imports: dict[str, tuple[dict[str, str], set[str]]] = {}
        for module, text in sources.items():
            tree = ast.parse(text)
            self.imports[module] = _imports(tree)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.functions.setdefault((module, node.name), []).append(node)
        self.by_name: dict[str, list[tuple[str, str]]] = {}
        for key in self.functions:
            self.by_name.setdefault(key[1], []).append(key)
        self._memo: dict[tuple[str, str], bool] = {}

    def _helpers(self, module: str, fn: ast.AST) -> Iterable[tuple[str, str]]:
        """Functions ``fn`` may call: its module's own, and those it imports from other modules under tests/
        (``from helpers import check``, ``helpers.check``)."""
        names, modules = self.imports[module]
        for name in _referenced_names(fn):
            if (module, name) in self.functions:
                yield module, name
            elif name in names:
                yield from self.by_name.get(names[name], [])
        for node in ast.walk(fn):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules:
                yield from self.by_name.get(node.attr, [])

    def asserts(self, module: str, fn: ast.AST, seen: frozenset = frozenset()) -> bool:
        if any(_is_check(node) for node in ast.walk(fn)):
            return True
        for key in self._helpers(module, fn):
            if key in seen or key in self._memo and not self._memo[key]:
                continue
            if key not in self._memo:
                self._memo[key] = any(self.asserts(key[0], f, seen | {key}) for f in self.functions[key])
            if self._memo[key]:
                return True
        return False


def collected_tests(tree: ast.Module) -> Iterable[ast.AST]:
    """Module-level ``test*`` functions and ``test*`` methods of ``Test*`` classes (what pytest collects)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from (f for f in node.body
                        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name.startswith("test"))


def unasserted_tests(sources: dict[str, str]) -> list[str]:
    """``module::function`` of every test function in ``sources`` (module -> text; test modules are the
    ones named ``test_*.py``, the others only provide helpers) that asserts nothing."""
    index = _Index(sources)
    missing = []
    for module, text in sorted(sources.items()):
        if not Path(module).name.startswith("test_"):
            continue
        for fn in collected_tests(ast.parse(text)):
            if not index.asserts(module, fn):
                missing.append(f"{module}::{fn.name}")
    return missing


def _suite_sources() -> dict[str, str]:
    return {str(p.relative_to(TESTS)): p.read_text() for p in sorted(TESTS.rglob("*.py"))}


def test_every_test_function_asserts_something():
    sources = _suite_sources()
    assert sum(1 for m in sources if Path(m).name.startswith("test_")) > 50  # the walk sees the suite
    missing = unasserted_tests(sources)
    unexplained = sorted(set(missing) - set(EXCEPTIONS))
    assert not unexplained, "tests that assert nothing (add an assertion, or list one in EXCEPTIONS with its " \
                            f"reason): {unexplained}"
    stale = sorted(set(EXCEPTIONS) - set(missing))
    assert not stale, f"EXCEPTIONS entries that assert now or no longer exist: {stale}"


def test_the_check_finds_a_test_without_assertions():
    """The walk itself: a test that only calls code is found; every accepted kind of check is accepted."""
    helper = "def check(x):\n    assert x\n\ndef build(x):\n    return x\n\ndef verify(x):\n    assert x\n"
    module = """
import numpy as np
import pytest
import helpers
from helpers import check, build

def test_runs_only():
    build(1)

def test_assert():
    assert build(1)

def test_raises():
    with pytest.raises(ValueError):
        build(1)

def test_np():
    np.testing.assert_allclose(build(1), 1)

def test_passed_on(tree):
    map(np.testing.assert_array_equal, tree, tree)

def test_helper():
    check(build(1))

def test_fail():
    pytest.fail("no")

def test_nested():
    def inner():
        check(1)
    inner()

def test_module_attribute():
    helpers.verify(1)

def test_not_imported(verify):
    verify(1)  # a fixture's value, not the helper of that name

class TestGroup:
    def test_method_without(self):
        build(2)

def helper_not_a_test():
    build(3)
"""
    got = unasserted_tests({"helpers.py": helper, "test_fake.py": module})
    assert got == ["test_fake.py::test_runs_only", "test_fake.py::test_not_imported",
                   "test_fake.py::test_method_without"]
