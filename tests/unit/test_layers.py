"""Layers only look down: domain <- core <- api <- cli. The journal stores domain events
and never imports the core; brokers implement the domain's port and know nothing above."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "alchemiser_cli"

# package -> the alchemiser_cli packages/modules it may never import (even lazily)
FORBIDDEN = {
    "domain": ("core", "api", "cli", "journal", "brokers", "settings", "notify"),
    "journal": ("core", "api", "cli", "brokers"),
    "brokers": ("core", "api", "cli", "journal"),
    "core": ("api", "cli"),
    "api": ("cli",),
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("alchemiser_cli.")}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_a_layer_above_it(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, layer
    wrong = [f"{path.relative_to(PACKAGE)} imports {module}"
             for path in files for module in sorted(imports(path))
             if module.split(".")[1] in FORBIDDEN[layer]]
    assert wrong == []
