"""The core knows no particular search space (DESIGN.md section 8).

Everything particular to a space lives in ``hypernas_pyg/spaces/<name>/``; the
encoder, hypernetwork, training, estimator, baselines, data, the datasets' shared
code and the CLI use the ``SearchSpace`` interface only. This test reads their
source and fails on any import of a space package or any name one exports.
"""
import ast
import importlib
import os.path as osp
import pkgutil

import pytest

import hypernas_pyg
import hypernas_pyg.spaces as spaces

ROOT = osp.dirname(hypernas_pyg.__file__)
#: Core modules and packages (relative to the package root).
CORE = ["nn", "training", "data", "search", "baselines", "predictor.py", "estimator.py",
        "checkpoint.py", "validation.py",
        "evaluation.py", "metrics.py", "cli.py", "atomic_file.py",
        "datasets/raw_files.py", "datasets/images.py", "datasets/cifar10.py"]


def _space_packages() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(spaces.__path__) if m.ispkg]


def _particular_names() -> set[str]:
    names = set()
    for package in _space_packages():
        module = importlib.import_module(f"hypernas_pyg.spaces.{package}")
        names |= set(getattr(module, "__all__", []))
    return names


def _core_files() -> list[str]:
    files = []
    for entry in CORE:
        path = osp.join(ROOT, entry)
        if osp.isdir(path):
            import glob
            files += sorted(glob.glob(osp.join(path, "**", "*.py"), recursive=True))
        elif osp.exists(path):
            files.append(path)
    return files


def test_there_are_particular_spaces_to_look_for():
    assert "nasbench201" in _space_packages()
    assert {"NASBench201Space", "NASBench201Network", "NB201_EDGES"} <= _particular_names()


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: osp.relpath(p, ROOT))
def test_core_module_names_no_particular_space(path):
    packages = {f"hypernas_pyg.spaces.{p}" for p in _space_packages()}
    names = _particular_names()
    tree = ast.parse(open(path).read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if any(node.module == p or node.module.startswith(p + ".") for p in packages):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names
                      if a.name in names]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if any(a.name.startswith(p) for p in packages)]
        elif isinstance(node, (ast.Name, ast.Attribute)):
            ident = node.id if isinstance(node, ast.Name) else node.attr
            if ident in names:
                found.append(f"line {node.lineno}: uses {ident}")
    assert not found, f"{osp.relpath(path, ROOT)} names a particular space: {found}"
