"""The layers of jlic import downwards only (ARCHITECTURE.md): every import in jlic/, at module level or
inside a function, is parsed; an import from a lower layer into a higher one, or a cycle between packages,
fails with the offending file and line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top; a unit may import units of its own layer or below (never above). Stated in ARCHITECTURE.md.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("foundation", frozenset({"ops", "layers", "quantize", "data", "metrics", "paths"})),
    ("entropy", frozenset({"entropy"})),
    ("latent_codecs", frozenset({"latent_codecs"})),
    ("models", frozenset({"models"})),
    ("fixedpoint", frozenset({"fixedpoint"})),
    ("codec", frozenset({"codec"})),
    ("evaluation", frozenset({"evaluation"})),
    ("interop", frozenset({"interop"})),
    ("train", frozenset({"train"})),
    ("overfit", frozenset({"overfit"})),
    ("commands", frozenset({"commands", "__main__"})),
)
RANK = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "jlic" and len(parts) > 1 else None


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """(imported jlic module, line) for every import statement in ``path``, relative imports resolved."""
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from jlic import x` imports the unit x
            out += [(f"{name}.{a.name}" if name == "jlic" else name, node.lineno) for a in node.names]
    return [(n, line) for n, line in out if n == "jlic" or n.startswith("jlic.")]


def package_edges(root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> ["file:line", ...] over every .py file under root/jlic."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted((root / "jlic").rglob("*.py")):
        src = _unit(".".join(path.relative_to(root).with_suffix("").parts)) or "jlic"
        for name, line in imports_of(path, root):
            dst = _unit(name)
            if dst and src != "jlic" and dst != src:
                edges.setdefault((src, dst), []).append(f"{path.relative_to(root)}:{line}")
    return edges


def upward_imports(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    return [f"{where[0]}: {src} ({LAYERS[RANK[src]][0]}) imports {dst} ({LAYERS[RANK[dst]][0]})"
            for (src, dst), where in sorted(edges.items()) if RANK[dst] > RANK[src]]


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for src, dst in edges:
        graph.setdefault(src, set()).add(dst)
        graph.setdefault(dst, set())
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_jlic_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in (ROOT / "jlic").iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    assert units <= set(RANK), f"add these to LAYERS and ARCHITECTURE.md: {sorted(units - set(RANK))}"


def test_no_import_points_up_a_layer():
    bad = upward_imports(package_edges())
    assert not bad, "imports from a lower layer into a higher one:\n" + "\n".join(bad)


def test_no_cycle_between_packages():
    assert not cycles(package_edges())


def test_the_check_fails_on_an_added_upward_import(tmp_path):
    """Proof that the two checks can fail: a copy of jlic/ with one upward import (entropy -> codec) and one
    resulting cycle is refused by both."""
    import shutil

    shutil.copytree(ROOT / "jlic", tmp_path / "jlic", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "jlic" / "entropy" / "cdf.py"
    target.write_text(target.read_text() + "\n\ndef _upward():\n    from jlic.codec import codec  # noqa\n")
    edges = package_edges(tmp_path)
    assert any("entropy/cdf.py" in b and "imports codec" in b for b in upward_imports(edges))
    assert any({"entropy", "codec"} <= set(c) for c in cycles(edges))


def test_imports_inside_functions_are_seen():
    """The parser walks the whole tree: the codec imports the deterministic context inside a function only."""
    src = (ROOT / "jlic/codec/codec.py").read_text()
    assert "\nfrom jlic.fixedpoint" not in src  # not at module level...
    assert "jlic.fixedpoint.context" in [n for n, _ in imports_of(ROOT / "jlic/codec/codec.py")]  # ...but seen
