"""The shape of the code: which layer may import which, how the store is grouped, no
import cycles, and the pygls names we rely on."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from pygls.protocol.json_rpc import JsonRPCProtocol
from pygls.server import JsonRPCServer

from plue_sidecar.models.records import Session
from plue_sidecar.rpc.pygls_dispatch import PYGLS_INTERNALS, converter_factory
from plue_sidecar.store.catalogue import rows

PACKAGE = Path(__file__).resolve().parent.parent / "plue_sidecar"
MOST_MODULES_IN_A_FOLDER = 15

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
        "store.catalogue.head",
        "store.catalogue.rows",
        "store.files.layout",
        "store.disk.lock",
        "store.disk.root",
        "runners.names",
        "settings",
        "capabilities",
    },
    "doctor": {"store", "models"},
    "rpc": {"rpc", "routes", "core.inflight", "models", "errors"},
    "handlers": {"handlers", "routes", "core", "models", "errors"},
    # The store's face is the one module of the store the core sees.
    "core": {"core", "store.storage", "models", "errors", "runners", "settings"},
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

STORE_PARTS = {
    # a folder of the store: the folders it may import (its modules at the top, the
    # face, the store itself, the load and the checkpointer, may import any)
    "store.disk": {"store.disk"},
    "store.files": {"store.files", "store.disk"},
    "store.catalogue": {"store.catalogue", "store.files", "store.disk"},
    "store.journal": {"store.journal", "store.files", "store.disk"},
}


def _modules() -> dict[str, Path]:
    """Every module of the package by its name below it ("store.disk.lock"; a package by
    its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


@cache
def _imports(path: Path) -> list[str]:
    """The package's modules `path` imports, anywhere in it (functions and TYPE_CHECKING
    blocks too): `from a import b` is `a.b` when that is a module, else `a`."""
    modules = _modules()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "plue_sidecar":
                found.extend(alias.name for alias in node.names)
            elif node.module.startswith("plue_sidecar."):
                base = node.module.removeprefix("plue_sidecar.")
                for alias in node.names:
                    named = f"{base}.{alias.name}"
                    found.append(named if named in modules else base)
        elif isinstance(node, ast.Import):
            found.extend(
                alias.name.removeprefix("plue_sidecar.")
                for alias in node.names
                if alias.name.startswith("plue_sidecar.")
            )
    return found


def _layer_of(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def _within(module: str, rule: str) -> bool:
    return module == rule or module.startswith(rule + ".")


def _allowed(layer: str, imported: str) -> bool:
    return any(
        _within(imported, rule) or _layer_of(imported) == rule for rule in ALLOWED[layer] | LEAVES
    )


def test_every_module_imports_only_the_layers_beneath_it() -> None:
    wrong: list[str] = []
    for name, path in sorted(_modules().items()):
        if "." not in name and path.name in {"__init__.py", "__main__.py"}:
            continue
        layer = _layer_of(name)
        if layer not in ALLOWED:
            wrong.append(f"{name}: no layer rule for {layer!r}")
            continue
        for imported in _imports(path):
            if not _allowed(layer, imported):
                wrong.append(f"{name} imports plue_sidecar.{imported}")
    assert wrong == []


def test_each_folder_of_the_store_imports_only_the_folders_beneath_it() -> None:
    wrong = [
        f"{name} imports plue_sidecar.{imported}"
        for name, path in sorted(_modules().items())
        for part, allowed in STORE_PARTS.items()
        if _within(name, part)
        for imported in _imports(path)
        if _within(imported, "store") and not any(_within(imported, rule) for rule in allowed)
    ]
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    graph = {
        name: {imported for imported in _imports(path) if imported != name}
        for name, path in _modules().items()
    }
    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_folder_holds_more_modules_than_a_newcomer_can_read_by_name() -> None:
    per_folder = Counter(
        str(path.parent.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )
    assert {
        folder: count for folder, count in per_folder.items() if count > MOST_MODULES_IN_A_FOLDER
    } == {}


def test_every_package_init_is_free_of_imports() -> None:
    """Importing one module of a folder imports nothing else of it (the early answers
    import a few of the store's modules, before pydantic)."""
    busy = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("__init__.py")
        if any(
            isinstance(node, ast.Import | ast.ImportFrom)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    ]
    assert busy == []


def test_a_catalogue_row_holds_the_session_fields_in_the_order_session_takes_them() -> None:
    fields = [field.name for field in dataclasses.fields(Session) if field.init]
    assert list(rows.SESSION_FIELDS) == fields


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
