"""The composition root is the top: ``app.py`` assembles ``api/``, which uses ``auth/``;
neither imports back up (no ``api`` → ``auth.routes`` → ``app`` cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import askpro

PACKAGE = Path(askpro.__file__).parent
# Entry points above the composition root (``python -m askpro.api``) may import it.
ENTRY_POINTS = {"__main__.py"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _upward_imports(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if path.name not in ENTRY_POINTS
        for name in sorted(_imports(path))
        if any(name == banned or name.startswith(banned + ".") for banned in forbidden)
    ]


def test_api_never_imports_the_composition_root() -> None:
    assert _upward_imports("api", ("askpro.app",)) == []


def test_auth_never_imports_the_api_or_the_composition_root() -> None:
    assert _upward_imports("auth", ("askpro.app", "askpro.api")) == []
