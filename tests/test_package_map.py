"""utils/ reads as a map: no import cycles, modules of at most ~450 lines, and every
public definition's docstring names the chapter that explains it (issue 27)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"
MODULES = sorted(UTILS.rglob("*.py"))
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(p): p for p in MODULES}


def imports_of(path: Path) -> set:
    """The utils modules ``path`` imports anywhere (top level, in functions, or under
    TYPE_CHECKING): ``from pkg import sub`` counts as the submodule when it is one."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names]
            hits = [s for s in subs if s in NAMES]
            found.update(hits if hits else [target] if target in NAMES else [])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in NAMES)
    found.discard(name)
    return found


def test_no_import_cycles():
    graph = {name: imports_of(path) for name, path in NAMES.items()}
    assert sum(len(v) for v in graph.values()) > 50  # the graph was really read
    cycles = []

    def visit(node, stack, done):
        if node in stack:
            cycles.append(stack[stack.index(node) :] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, stack + [node], done)
        done.add(node)

    done = set()
    for start in sorted(graph):
        visit(start, [], done)
    assert not cycles, f"import cycles in utils: {cycles}"


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines; split it by concept"


def public_definitions(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        if isinstance(node, kinds) and not node.name.startswith("_"):
            yield node


def test_every_public_docstring_names_its_chapter():
    import re

    chapter = re.compile(r"[Cc]hapters? \d+")
    missing, count = [], 0
    for path in MODULES:
        for node in public_definitions(path):
            count += 1
            doc = ast.get_docstring(node) or ""
            if not chapter.search(doc):
                missing.append(f"{module_name(path)}.{node.name}")
    assert count > 300
    assert not missing, f"{len(missing)} docstrings name no chapter: {missing}"


# Modules split to stay under MAX_LINES keep their old names: every chapter, test and
# module that wrote ``old.name`` or ``from utils.old import name`` still gets the same
# object from the new home.
REEXPORTS = {
    "utils.shapes": (
        "utils.contracts",
        [
            "check_real",
            "looks_nchw",
            "check_nhwc",
            "check_finite",
            "check_nonempty",
            "check_last_axis",
            "check_range",
            "check_class_indices",
        ],
    ),
    "utils.diagrams_conv": (
        "utils.diagrams_graph",
        ["NEURON_GRAPH", "draw_computational_graph"],
    ),
    "utils.attribution": ("utils.ranks", ["rank_correlation"]),
    "utils.fast.trainer": (
        "utils.fast.outcome",
        ["RunResult", "EpochProgress", "TrainingDivergedError"],
    ),
}


@pytest.mark.parametrize("old", sorted(REEXPORTS))
def test_split_modules_reexport_their_old_names(old):
    import importlib

    new, names = REEXPORTS[old]
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    assert names
    for name in names:
        assert getattr(old_mod, name) is getattr(new_mod, name), f"{old}.{name}"
        obj = getattr(new_mod, name)
        if callable(obj):
            assert obj.__module__ == new, f"{new}.{name} lives elsewhere"
