"""The layout docs/ARCHITECTURE.md draws is the layout of the code: import rules, a torch-free core, small units."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("rare", "service", "build_engine", "local_triton", "benchmarks")
CLI = REPO / "rare" / "cli.py"
TRITON_MODEL = REPO / "build_engine" / "triton_model.py"  # runs inside Triton's Python backend, which provides its API


def rules() -> dict[str, set[str]]:
    """The 'may import' column of the architecture document, by package."""
    table = {}
    for line in (REPO / "docs" / "ARCHITECTURE.md").read_text().splitlines():
        match = re.match(r"\| `([a-z_.]+)` \| [^|]+ \| (.+) \|$", line)
        if match:
            allowed = set(re.findall(r"`([a-z_.]+)`", match[2]))
            table[match[1]] = (
                set(PACKAGES) | {f"rare.{p.name}" for p in (REPO / "rare").iterdir() if p.is_dir()}
                if "everything" in match[2]
                else allowed
            )
    return table


def package_of(module: str) -> str:
    """rare.train.loop -> rare.train; rare.codec -> rare; service.app -> service."""
    parts = module.split(".")
    if parts[0] == "rare" and len(parts) > 1 and (REPO / "rare" / parts[1]).is_dir():
        return f"rare.{parts[1]}"
    return parts[0]


def project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {package_of(n) for n in names if n.split(".")[0] in PACKAGES}
    return found


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_every_package_imports_only_what_the_document_allows() -> None:
    table = rules()
    assert set(table) >= {"rare", "rare.model", "rare.train", "rare.export", "service", "build_engine"}
    broken = []
    for path in source_files():
        if path == CLI:
            continue
        package = package_of(".".join(path.relative_to(REPO).with_suffix("").parts))
        assert package in table, f"{path}: package {package} is not in docs/ARCHITECTURE.md"
        broken += [f"{path.relative_to(REPO)} imports {t}" for t in project_imports(path) - table[package] - {package}]
    assert not broken, "\n".join(broken)


BLOCK_TRAINING = """
import importlib.abc, importlib, pkgutil, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "lmdb", "albumentations"}:
            raise ModuleNotFoundError(f"blocked: {name}", name=name)
sys.meta_path.insert(0, Block())
"""


def test_the_core_the_gateway_and_the_builder_import_without_torch() -> None:
    modules = [f"rare.{p.stem}" for p in (REPO / "rare").glob("*.py") if p.stem not in ("__main__",)]
    modules += [
        ".".join(p.relative_to(REPO).with_suffix("").parts)
        for pkg in ("service", "build_engine", "rare/gates", "rare/synth")
        for p in (REPO / pkg).rglob("*.py")
        if p.stem != "__main__" and p != TRITON_MODEL
    ]
    code = BLOCK_TRAINING + f"for m in {modules!r}: importlib.import_module(m)\nprint(len({modules!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(modules) > 40


def test_a_training_command_without_the_extras_says_so_in_one_line() -> None:
    code = BLOCK_TRAINING + "from rare.cli import main; sys.exit(main(['eval', '-c', 'configs/rare_mv3_en.yml']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rare eval: needs the training extras (pip install -e '.[train]', or make test): no module named 'torch'"
    ]


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_files_stay_under_300_lines_and_functions_under_40(path: Path) -> None:
    source = path.read_text()
    assert len(source.splitlines()) <= 300
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 40
    ]
    assert not long
