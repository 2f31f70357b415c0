"""Finding a runner by name: `echo`, or `module:attribute` for one that ships elsewhere."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from plue_sidecar.runners.base import Runner, RunnerSettings
from plue_sidecar.runners.echo import EchoRunner

log = logging.getLogger(__name__)


class UnknownRunnerError(LookupError):
    pass


class RunnerRegistry:
    def __init__(self, settings: RunnerSettings) -> None:
        self._settings = settings
        self._loaded: dict[str, Runner] = {}

    def get(self, name: str) -> Runner:
        runner = self._loaded.get(name)
        if runner is None:
            runner = self._load(name)
            self._loaded[name] = runner
        return runner

    def _load(self, name: str) -> Runner:
        if name == "echo":
            return EchoRunner(self._settings)
        module_name, _, attribute = name.partition(":")
        if not module_name or not attribute:
            raise UnknownRunnerError(name)
        try:
            factory: Any = getattr(importlib.import_module(module_name), attribute)
            runner: Runner = factory(self._settings)
        except Exception as exc:
            log.warning("cannot load runner %r: %s", name, exc)
            raise UnknownRunnerError(name) from exc
        return runner
