"""Runners are a registry fixed at launch: a client picks one by name and can never make
the sidecar import or run anything it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from plue_sidecar import errors
from tests.conftest import StartSidecar

TEXT = [{"type": "text", "text": "hi"}]


def marked_module(directory: Path, name: str, marker: Path, body: str) -> str:
    """Module `name` (`body`), which leaves `marker` behind if it is ever imported."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n{body}")
    return name


def planted_module(directory: Path, marker: Path) -> str:
    """A runner module that leaves `marker` behind if it is ever imported."""
    return marked_module(
        directory,
        "planted_runner",
        marker,
        "class Runner:\n    def __init__(self, settings):\n        pass\n",
    )


@pytest.mark.parametrize(
    "named",
    [
        "planted_runner:Runner",
        "code:interact",
        "sys:exit",
        "builtins:str",
        "os:system",
    ],
)
async def test_a_runner_a_client_names_is_refused_and_nothing_is_imported(
    start_sidecar: StartSidecar, tmp_path: Path, named: str
) -> None:
    marker = tmp_path / "imported"
    planted_module(tmp_path / "code", marker)
    sidecar = await start_sidecar(PYTHONPATH=str(tmp_path / "code"))
    failure = await sidecar.failure("session/create", {"runner": named})
    assert failure.code == errors.UNKNOWN_RUNNER
    assert failure.data == {"kind": "unknown_runner", "runner": named}
    assert not marker.exists()
    session = await sidecar.call("session/create", {"title": "still fine"})
    result = await sidecar.call("session/prompt", {"sessionId": session["id"], "parts": TEXT})
    assert result["stopReason"] == "end_turn"
    assert await sidecar.stop() == 0


async def test_initialize_lists_the_runners_a_client_may_name(
    start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    planted_module(tmp_path / "code", marker)
    sidecar = await start_sidecar(
        "--runner-module",
        "planted=planted_runner:Runner",
        initialize=False,
        PYTHONPATH=str(tmp_path / "code"),
    )
    result = await sidecar.initialize()
    assert result["capabilities"]["runners"] == ["echo", "planted"]
    assert not marker.exists()  # a registered runner is imported when a turn needs it
    await sidecar.call("session/create", {"runner": "planted"})
    assert marker.exists()


async def test_installed_packages_declare_runners_in_an_entry_point_group(
    start_sidecar: StartSidecar, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    planted_module(site, tmp_path / "imported")
    dist_info = site / "planted_runners-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: planted-runners\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[plue_sidecar.runners]\nplanted = planted_runner:Runner\n"
    )
    sidecar = await start_sidecar(initialize=False, PYTHONPATH=str(site))
    result = await sidecar.initialize()
    assert result["capabilities"]["runners"] == ["echo", "planted"]
    session = await sidecar.call("session/create", {"runner": "planted"})
    assert session["title"] == "New Session"


def planted_pydantic_plugin(site: Path, marker: Path) -> None:
    """An installed package declaring a pydantic plugin that leaves `marker` when loaded."""
    marked_module(
        site,
        "planted_plugin",
        marker,
        "class Plugin:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        return None, None, None\n"
        "plugin = Plugin()\n",
    )
    dist_info = site / "planted_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: planted-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text("[pydantic]\nplanted = planted_plugin:plugin\n")


@pytest.mark.parametrize(("launched_with", "loaded"), [(None, False), ("", True)])
async def test_installed_pydantic_plugins_see_nothing_unless_the_launcher_allows_them(
    start_sidecar: StartSidecar, tmp_path: Path, launched_with: str | None, loaded: bool
) -> None:
    marker = tmp_path / "plugin loaded"
    planted_pydantic_plugin(tmp_path / "site", marker)
    env = {"PYTHONPATH": str(tmp_path / "site")}
    if launched_with is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = launched_with
    sidecar = await start_sidecar(**env)
    session = await sidecar.call("session/create", {"title": "private"})
    await sidecar.call(
        "message/append", {"sessionId": session["id"], "role": "user", "parts": TEXT}
    )
    assert marker.exists() == loaded
    assert await sidecar.stop() == 0
