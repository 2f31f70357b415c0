"""Which runner names a sidecar serves, and what each names: fixed at launch.

Without importing any runner (or pydantic), so that `initialize` can list them before
the rest of the sidecar is imported (see `early`).
"""

from __future__ import annotations

from plue_sidecar.runners.installed import declared_entry_points
from plue_sidecar.settings import Settings

ENTRY_POINT_GROUP = "plue_sidecar.runners"
ECHO = "echo"


def is_import_spec(text: str) -> bool:
    """`module:attribute`, as the command line may name a runner."""
    module, _, attribute = text.partition(":")
    return bool(module) and bool(attribute)


def launch_runner_specs(settings: Settings) -> dict[str, str]:
    """The runners the command line registers, by name."""
    specs = dict(settings.runner_modules)
    if is_import_spec(settings.runner):
        specs[settings.runner] = settings.runner
    return specs


def runner_specs(launch_specs: dict[str, str]) -> dict[str, str]:
    """Every runner a client may name -> `module:Class` (or `echo`): installed
    packages' entry points, then the command line's, then the built-in echo."""
    specs = declared_entry_points(ENTRY_POINT_GROUP)
    specs.update(launch_specs)
    specs[ECHO] = ECHO
    return specs
