"""The runners a sidecar can use: a registry fixed when it is launched.

Three sources, all chosen by whoever launches the sidecar, never by a client:
- `echo`, built in;
- runners that installed packages declare in the `plue_sidecar.runners` entry-point
  group (`name = "package.module:RunnerClass"`);
- runners the command line names: `--runner-module NAME=module:Class`, and
  `--runner module:Class`, which also makes it the default (registered under that text).

A client picks a runner by one of these names (`session/create`'s `runner`); any other
name is refused before anything is imported. A registered runner's module is imported
the first time a turn needs it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from plue_sidecar.runners.base import Runner, RunnerSettings
from plue_sidecar.runners.echo import EchoRunner
from plue_sidecar.runners.names import ECHO, runner_specs

log = logging.getLogger(__name__)


class UnknownRunnerError(LookupError):
    pass


class RunnerRegistry:
    def __init__(self, settings: RunnerSettings, launch_specs: Mapping[str, str]) -> None:
        """`launch_specs`: name -> `module:Class`, from the command line."""
        self._settings = settings
        self._launch_specs = dict(launch_specs)
        self._specs: dict[str, str] | None = None
        self._loaded: dict[str, Runner] = {}

    def names(self) -> list[str]:
        """Every runner a client may name, sorted."""
        return sorted(self._all_specs())

    def get(self, name: str) -> Runner:
        runner = self._loaded.get(name)
        if runner is None:
            runner = self._load(name)
            self._loaded[name] = runner
        return runner

    def _all_specs(self) -> dict[str, str]:
        if self._specs is None:
            self._specs = runner_specs(self._launch_specs)
        return self._specs

    def _load(self, name: str) -> Runner:
        spec = self._all_specs().get(name)
        if spec is None:
            raise UnknownRunnerError(name)
        if spec == ECHO:
            return EchoRunner(self._settings)
        module_name, _, attribute = spec.partition(":")
        try:
            factory: Any = getattr(importlib.import_module(module_name), attribute)
            runner: Runner = factory(self._settings)
        except Exception as exc:
            log.warning("cannot load runner %r (%s): %s", name, spec, exc)
            raise UnknownRunnerError(name) from exc
        return runner
