"""The layers stay apart: Qt only in ui/, torch reaches ui/ only through engines, no upward imports."""

import ast
from pathlib import Path

import pytest

STUDIO = Path(__file__).resolve().parent.parent / "studio"
QT_FREE_PACKAGES = ("editing", "engines", "nets", "data", "video")
QT_FREE_MODULES = ("jobs", "errors", "checkpoints", "imageio", "metrics", "devices", "batch", "project", "atomic")


def modules_in(package: str) -> list[Path]:
    return sorted((STUDIO / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a file imports, top-level or inside a function; relative imports resolved."""
    parts = path.relative_to(STUDIO.parent).with_suffix("").parts
    package = parts[:-1]  # the package a relative import starts from (also for __init__.py)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ((base,) if base else ()))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def offenders(paths: list[Path], *forbidden: str) -> list[str]:
    found = []
    for path in paths:
        bad = {name for name in imported(path) if any(name == f or name.startswith(f + ".") for f in forbidden)}
        shortest = sorted(name for name in bad if not any(name.startswith(other + ".") for other in bad))
        found += [f"{path.relative_to(STUDIO.parent)} imports {name}" for name in shortest]
    return found


def qt_free_paths() -> list[Path]:
    paths = [p for package in QT_FREE_PACKAGES if (STUDIO / package).is_dir() for p in modules_in(package)]
    return paths + [STUDIO / f"{name}.py" for name in QT_FREE_MODULES]


def test_the_listed_modules_exist():
    assert modules_in("editing") and modules_in("engines") and modules_in("nets") and modules_in("ui")
    for name in QT_FREE_MODULES:
        assert (STUDIO / f"{name}.py").is_file(), name


def test_only_ui_imports_qt():
    assert offenders(qt_free_paths(), "PySide6") == []


@pytest.mark.parametrize("package", ["engines", "nets", "video"])
def test_engines_and_nets_never_import_train_or_ui(package):
    assert offenders(modules_in(package), "studio.train", "studio.ui") == []


def test_bench_never_imports_train():
    assert offenders(modules_in("bench"), "studio.train") == []


def test_ui_reaches_torch_only_through_engines():
    assert offenders(modules_in("ui"), "torch") == []
