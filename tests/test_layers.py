"""The package's folders are layers of the pipeline: a module imports only its own layer or lower ones.

core < stats < spec < traffic < engines < lifecycle/session < ui. The embedded and the Kubernetes
engines never import each other, and no code outside lab/engines/ names an engine.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "lab"
LAYERS = [
    ("core", ("lab.errors", "lab.timeouts", "lab.waiting", "lab.state", "lab.objects")),
    ("stats", ("lab.stats",)),
    ("spec", ("lab.spec",)),
    ("traffic", ("lab.traffic",)),
    ("engines", ("lab.engines",)),
    ("orchestration", ("lab.lifecycle", "lab.session")),
    ("ui", ("lab.ui", "lab.pytest_plugin", "lab.__main__")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def imports(path: Path) -> list[tuple[int, str]]:
    """Every lab module `path` imports (at the top or inside functions), with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("lab.")]
        elif isinstance(node, ast.ImportFrom) and node.module and (node.module + ".").startswith("lab."):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*candidate.split(".")) / "__init__.py"
                ).exists()
                found.append((node.lineno, candidate if is_module else node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if module_name(p) != "lab")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_go_only_downward(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {target} ({LAYERS[layer_of(target)][0]})"
        for line, target in imports(path)
        if target != "lab" and layer_of(target) > mine
    ]
    assert not upward, f"{me} is in layer {LAYERS[mine][0]}:\n" + "\n".join(upward)


@pytest.mark.parametrize(("one", "other"), [("lab.engines.local", "lab.engines.kube"), ("lab.engines.kube", "lab.engines.local")])
def test_the_engines_do_not_import_each_other(one: str, other: str) -> None:
    crossing = [
        f"{p.relative_to(ROOT)}:{line} imports {target}"
        for p in MODULES
        if module_name(p).startswith(one)
        for line, target in imports(p)
        if target.startswith(other)
    ]
    assert not crossing, "\n".join(crossing)


def test_the_layer_test_catches_an_upward_import(tmp_path: Path) -> None:
    bad = PACKAGE / "stats" / "_probe_upward.py"
    bad.write_text('"""probe."""\n\ndef f() -> None:\n    from lab.engines.local import ports  # noqa: F401\n')
    try:
        with pytest.raises(AssertionError, match=r"imports lab\.engines\.local\.ports"):
            test_imports_go_only_downward(bad)
    finally:
        bad.unlink()


ENGINE_NAME = re.compile(r"""[=!]=\s*["'](local|kind|cluster)["']|["'](local|kind|cluster)["']\s*[=!]=|in \(["'](local|kind|cluster)""")


def test_no_engine_name_is_compared_outside_the_engines() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in MODULES
        if not module_name(p).startswith("lab.engines")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if ENGINE_NAME.search(line)
    ]
    assert not offenders, "\n".join(offenders)


def test_no_untyped_extra_bag_on_the_state() -> None:
    offenders = [f"{p.relative_to(ROOT)}" for p in MODULES if re.search(r"state\.extra|extra=\{", p.read_text())]
    assert not offenders


def test_no_sleep_loop_outside_the_wait_primitive() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in MODULES
        if p.name != "waiting.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bwhile True\b|time\.sleep\(|\bsleep\(", line)
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("init", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: module_name(p) or "lab")
def test_every_folder_says_what_it_owns_and_may_import(init: Path) -> None:
    if init.parent == PACKAGE:
        return  # lab/__init__.py is the scenario authors' facade; it names the layers instead
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    assert "Owns" in doc and "May import" in doc, f"{init.relative_to(ROOT)}: {doc!r}"


def test_no_literal_timeout_outside_the_timeouts_table() -> None:
    literal = re.compile(r"\b\w*(timeout|budget)\w*\s*(?::\s*float\s*)?=\s*\d")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in MODULES
        if p.name != "timeouts.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if literal.search(line) and "help=" not in line
    ]
    assert not offenders, "\n".join(offenders)


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def oversized(path: Path, root: Path = ROOT) -> list[str]:
    """What in `path` is too long to read at once: the module past 400 lines, functions past 60."""
    source = path.read_text()
    where = path.relative_to(root)
    found = [f"{where}: {source.count(chr(10))} lines"] if source.count("\n") > MAX_MODULE_LINES else []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{where}:{node.lineno}: {node.name} is {length} lines")
    return found


def test_no_module_above_400_lines_and_no_function_above_60() -> None:
    offenders = [line for p in MODULES for line in oversized(p)]
    assert not offenders, "\n".join(offenders)


def test_the_size_rule_catches_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    long = tmp_path / "probe.py"
    long.write_text(f'"""probe"""\n\n\ndef f() -> None:\n{body}\n' + "\n" * MAX_MODULE_LINES)
    assert oversized(long, tmp_path) == [
        f"probe.py: {MAX_MODULE_LINES + MAX_FUNCTION_LINES + 4} lines",
        f"probe.py:4: f is {MAX_FUNCTION_LINES + 1} lines",
    ]
