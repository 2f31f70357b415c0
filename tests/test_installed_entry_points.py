"""Entry points read from installed packages' metadata, as importlib.metadata reads them."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

from plue_sidecar.runners.installed import declared_entry_points

GROUP = "plue_sidecar.runners"


def plant(site: Path, directory: str, text: str | bytes | None) -> None:
    metadata = site / directory
    metadata.mkdir(parents=True)
    if isinstance(text, str):
        (metadata / "entry_points.txt").write_text(text)
    elif isinstance(text, bytes):
        (metadata / "entry_points.txt").write_bytes(text)


def test_reads_the_group_from_dist_info_and_egg_info(tmp_path: Path) -> None:
    plant(
        tmp_path,
        "alpha-1.0.dist-info",
        "# comment\n[console_scripts]\nalpha = alpha:main\n\n"
        f"[{GROUP}]\n  one = alpha.runner:One  \n; another comment\ntwo=alpha:Two\n",
    )
    plant(tmp_path, "beta.egg-info", f"[{GROUP}]\nthree = beta:Three [extra]\n")
    plant(tmp_path, "gamma-2.0.dist-info", None)
    assert declared_entry_points(GROUP, [str(tmp_path)]) == {
        "one": "alpha.runner:One",
        "two": "alpha:Two",
        "three": "beta:Three [extra]",
    }


def test_the_first_distribution_of_a_project_on_the_path_is_the_installed_one(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    plant(first, "My_Runners-2.0.dist-info", f"[{GROUP}]\nplanted = new:Runner\n")
    plant(second, "my.runners-1.0.dist-info", f"[{GROUP}]\nplanted = old:Runner\nold = old:X\n")
    plant(second, "other-1.0.dist-info", f"[{GROUP}]\nplanted = other:Runner\n")
    assert declared_entry_points(GROUP, [str(first), str(second)]) == {
        "planted": "new:Runner",
    }


def test_damaged_metadata_and_odd_path_entries_are_passed_over(tmp_path: Path) -> None:
    plant(tmp_path, "bad-1.0.dist-info", b"[plue_sidecar.runners]\nx = \xff\xfe:Y\n")
    plant(tmp_path, "half-1.0.dist-info", f"[{GROUP}]\nno value here\n = nameless:X\nx =\n")
    (tmp_path / "file.egg-info").write_text("a distutils egg-info file, not a directory")
    (tmp_path / "archive.zip").write_bytes(b"PK")
    path = [str(tmp_path), str(tmp_path / "archive.zip"), str(tmp_path / "missing")]
    assert declared_entry_points(GROUP, path) == {}


def test_agrees_with_importlib_metadata_on_this_interpreter() -> None:
    for group in ("console_scripts", "pytest11"):
        expected = {ep.name: ep.value for ep in entry_points(group=group)}
        assert declared_entry_points(group, sys.path) == expected
