"""The policy layer's public names, and its purity: stdlib and cairn.core only, no I/O, no clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import cairn.policy

SOURCE = Path(cairn.policy.__file__).parent
MODULES = sorted(SOURCE.glob("*.py"))


def test_every_public_name_is_exported() -> None:
    for name in cairn.policy.__all__:
        assert hasattr(cairn.policy, name), name
    assert {"parse_policy", "next_runs", "expiry", "alive", "simulate"} <= set(cairn.policy.__all__)


def test_imports_only_the_standard_library_and_the_core() -> None:
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                allowed = (
                    root in sys.stdlib_module_names
                    or name.startswith(("cairn.core", "cairn.policy"))
                    or root == "__future__"
                )
                assert allowed, f"{path.name} imports {name}"


def test_reads_no_clock_and_does_no_io() -> None:
    clock_methods = {"now", "today", "utcnow", "fromtimestamp", "monotonic", "perf_counter"}
    io_functions = {"open", "print", "input"}
    io_modules = {"os", "io", "socket", "subprocess", "shutil", "random", "time", "logging"}
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute):
                    assert node.func.attr not in clock_methods, f"{where} reads the clock"
                elif isinstance(node.func, ast.Name):
                    assert node.func.id not in io_functions, f"{where} calls {node.func.id}()"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] not in io_modules, where
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] not in io_modules, where
                if node.module == "pathlib":  # pure paths only: they never touch the disk
                    assert all(a.name.startswith("Pure") for a in node.names), where


def test_modules_stay_small() -> None:
    for path in MODULES:
        assert len(path.read_text().splitlines()) < 500, path.name
