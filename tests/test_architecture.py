"""The shape of the code: which layer may import which, and the pygls names we rely on."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from pygls.protocol.json_rpc import JsonRPCProtocol
from pygls.server import JsonRPCServer

from plue_sidecar.rpc.pygls_dispatch import PYGLS_INTERNALS, converter_factory

PACKAGE = Path(__file__).resolve().parent.parent / "plue_sidecar"

ALLOWED = {
    # layer: the layers (and leaves) it may import
    "app": {"rpc", "handlers", "core", "store", "models", "errors", "settings", "runners", "early"},
    "cli": {"app", "early", "core", "store", "settings", "doctor"},
    # Imports neither pydantic nor pygls (a test holds it): no models, no handlers.
    "early": {
        "early",
        "rpc.framing",
        "rpc.params_depth",
        "core.ordering",
        "store.head",
        "store.layout",
        "store.lock",
        "store.modes",
        "runners.names",
        "settings",
        "capabilities",
    },
    "doctor": {"store", "models"},
    "rpc": {"rpc", "routes", "core.inflight", "models", "errors"},
    "handlers": {"handlers", "routes", "core", "models", "errors"},
    "core": {"core", "store", "models", "errors", "runners", "settings"},
    "runners": {"runners", "models", "settings"},
    "store": {"store", "models", "errors"},
    "models": {"models"},
    "routes": set(),
    "errors": set(),
    "fd_io": set(),
    "settings": set(),
    "session_format": set(),
    "capabilities": set(),
    "wire_limits": set(),
    "gc_pause": set(),
}


LEAVES = {"__version__", "fd_io", "session_format", "capabilities", "wire_limits", "gc_pause"}
"""Imported by any layer: they import nothing of the package."""


def _layer_of(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "plue_sidecar":
                found.extend(alias.name for alias in node.names)
            elif node.module.startswith("plue_sidecar."):
                found.append(node.module.removeprefix("plue_sidecar."))
        elif isinstance(node, ast.Import):
            found.extend(
                alias.name.removeprefix("plue_sidecar.")
                for alias in node.names
                if alias.name.startswith("plue_sidecar.")
            )
    return found


def _allowed(layer: str, imported: str) -> bool:
    return any(
        imported == rule or imported.startswith(rule + ".") or _layer_of(imported) == rule
        for rule in ALLOWED[layer] | LEAVES
    )


def test_every_module_imports_only_the_layers_beneath_it() -> None:
    wrong: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = relative.parts
        if parts[-1] in {"__init__", "__main__"} and len(parts) == 1:
            continue
        layer = parts[0]
        if layer not in ALLOWED:
            wrong.append(f"{relative}: no layer rule for {layer!r}")
            continue
        for imported in _imports(path):
            if not _allowed(layer, imported):
                wrong.append(f"{relative} imports plue_sidecar.{imported}")
    assert wrong == []


def test_only_the_dispatch_adapter_and_the_root_touch_pygls() -> None:
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name == "pygls" or name.startswith("pygls.") for name in _external_imports(path))
    )
    assert users == ["rpc/pygls_dispatch.py"]


def _external_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize(("owner", "name"), PYGLS_INTERNALS, ids=str)
def test_the_pygls_internals_the_adapter_uses_still_exist(owner: type, name: str) -> None:
    protocol = JsonRPCServer(JsonRPCProtocol, converter_factory).protocol
    assert hasattr(owner, name) or hasattr(protocol, name), (
        f"pygls no longer has {owner.__name__}.{name}: rpc/pygls_dispatch.py must change "
        "with this pygls release"
    )
    if hasattr(owner, name) and callable(getattr(owner, name)):
        assert "msg_id" in inspect.signature(getattr(owner, name)).parameters
