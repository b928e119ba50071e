"""The layers run one way: ``agents`` at the bottom, ``hub`` above it, ``zoo`` (the application) on top.

Checked twice: by reading every module's import statements (an import inside a function counts), and by
importing every module of a layer in a fresh interpreter and looking at what got imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: layer -> the packages it must never import
FORBIDDEN = {"agents": ("zoo", "hub"), "hub": ("zoo",)}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _modules(layer: str) -> list[str]:
    names = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_module_of_a_lower_layer_names_a_higher_one(layer):
    offenders = {str(path.relative_to(ROOT)): sorted(_imported_packages(path) & set(FORBIDDEN[layer]))
                 for path in sorted((ROOT / layer).rglob("*.py"))}
    assert not {path: found for path, found in offenders.items() if found}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_importing_a_layer_imports_nothing_above_it(layer):
    modules = [m for m in _modules(layer) if not m.endswith("__main__")]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as error:  # an optional extra that is not installed\n"
        "        if error.name and error.name.split('.')[0] in ('zoo', 'hub', 'agents'):\n"
        "            raise\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN[layer])!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


def test_the_application_names_no_algorithm_or_policy_class_of_the_zoo():
    """Families bring their figures through the evaluation hook, not through cases in ``zoo/`` or ``hub/``."""
    from agents.registry import ALGOS

    own = {spec.class_name for spec in ALGOS.values() if spec.source == "zoo"} | {"TabularPolicy"}
    for layer in ("zoo", "hub"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            names = {node.id for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Name)}
            names |= {node.attr for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)}
            assert not names & own, f"{path.relative_to(ROOT)} names {sorted(names & own)}"
