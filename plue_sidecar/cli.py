"""The `plue-sidecar` command."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plue_sidecar import __version__
from plue_sidecar.fd_io import claim_stdout
from plue_sidecar.settings import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_HISTORY_CACHE_BYTES,
    DEFAULT_MAX_FRAME_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING_OUTPUT_BYTES,
    DEFAULT_SHARE_BASE_URL,
    Settings,
)

if TYPE_CHECKING:
    from plue_sidecar.core.opening import Opening
    from plue_sidecar.early.start import Handover
    from plue_sidecar.store.disk.lock import DataDirLock
    from plue_sidecar.store.storage import SessionStorage

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATA_DIR_IN_USE = os.EX_TEMPFAIL
"""`doctor --recover`'s exit code while a sidecar holds the data directory (try later)."""
PYDANTIC_PLUGINS_VARIABLE = "PYDANTIC_DISABLE_PLUGINS"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plue-sidecar",
        description="Plue's session core: JSON-RPC 2.0 over stdin/stdout with Content-Length "
        "framing. stdout carries protocol frames only; logs go to stderr.",
    )
    parser.add_argument("--version", action="version", version=f"plue-sidecar {__version__}")
    parser.add_argument(
        "command",
        nargs="?",
        choices=["serve", "doctor"],
        default="serve",
        help="serve (the default) speaks the protocol on stdio; doctor checks "
        "a data directory, changes nothing, and exits 1 if it finds problems "
        "(doctor --recover brings back the message logs a start put in quarantine)",
    )
    parser.add_argument(
        "--recover",
        action="store_true",
        help="with doctor: bring back each message log in quarantine as a session "
        "(never over one that exists); needs the data directory unused, exits 0 when "
        f"every one was recovered, 1 when one is left, {DATA_DIR_IN_USE} while a sidecar "
        "holds it",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where sessions live (else $PLUE_DATA_DIR, else the user data dir)",
    )
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--log-file", type=Path, help="log here instead of stderr")
    parser.add_argument("--share-base-url", default=DEFAULT_SHARE_BASE_URL)
    parser.add_argument("--max-frame-bytes", type=_positive, default=DEFAULT_MAX_FRAME_BYTES)
    parser.add_argument("--max-message-bytes", type=_positive, default=DEFAULT_MAX_MESSAGE_BYTES)
    parser.add_argument(
        "--max-pending-output-bytes",
        type=_positive,
        default=DEFAULT_MAX_PENDING_OUTPUT_BYTES,
        help="output the client has not read beyond which a streaming turn waits for it",
    )
    parser.add_argument(
        "--history-cache-bytes",
        type=_positive,
        default=DEFAULT_HISTORY_CACHE_BYTES,
        help="stored messages kept in memory across sessions; the least "
        "recently used histories are read back from disk when needed",
    )
    parser.add_argument(
        "--runner",
        default="echo",
        help="default runner: a registered name ('echo', an installed "
        "package's, or one --runner-module gives), or 'module:Class'",
    )
    parser.add_argument(
        "--runner-module",
        action="append",
        default=[],
        type=_runner_module,
        metavar="NAME=module:Class",
        help="register a runner clients may name (repeatable)",
    )
    parser.add_argument(
        "--echo-delay-ms",
        type=_non_negative,
        default=0,
        help="the echo runner's wait before each word",
    )
    parser.add_argument(
        "--abort-grace-ms",
        type=_non_negative,
        default=2000,
        help="how long an aborted runner may take to stop",
    )
    parser.add_argument(
        "--no-early-answers",
        dest="early_answers",
        action="store_false",
        help="answer nothing before every module is imported (the first "
        "answers are the same either way, only later)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_positive,
        default=DEFAULT_CHECKPOINT_EVERY,
        help="write documents behind the journal after this many changes",
    )
    return parser


def _runner_module(text: str) -> tuple[str, str]:
    name, _, spec = text.partition("=")
    module, _, attribute = spec.partition(":")
    if not name or not module or not attribute:
        raise argparse.ArgumentTypeError("expected NAME=module:Class")
    return name, spec


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def resolve_data_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    from_env = os.environ.get("PLUE_DATA_DIR")
    if from_env:
        return Path(from_env)
    import platformdirs  # noqa: PLC0415 - only this fallback needs it

    return Path(platformdirs.user_data_dir("Plue", appauthor=False))


def configure_logging(level: str, log_file: Path | None) -> None:
    handler: logging.Handler
    if log_file is not None:
        handler = logging.FileHandler(log_file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pygls").setLevel(max(logging.getLevelName(level), logging.WARNING))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_file)
    if args.recover and args.command != "doctor":
        parser.error("--recover goes with the doctor command")
    if args.command == "doctor":
        data_dir = resolve_data_dir(args.data_dir)
        return run_recover(data_dir) if args.recover else run_doctor(data_dir)
    settings = Settings(
        data_dir=resolve_data_dir(args.data_dir).absolute(),
        share_base_url=args.share_base_url,
        max_frame_bytes=args.max_frame_bytes,
        max_message_bytes=args.max_message_bytes,
        runner=args.runner,
        runner_modules=tuple(args.runner_module),
        echo_delay_ms=args.echo_delay_ms,
        abort_grace_ms=args.abort_grace_ms,
        checkpoint_every=args.checkpoint_every,
        max_pending_output_bytes=args.max_pending_output_bytes,
        history_cache_bytes=args.history_cache_bytes,
    )
    keep_out_pydantic_plugins()
    # The cyclic collector is off while the start allocates (see core.collector); the
    # server turns it back on.
    gc.disable()
    output_fd = claim_stdout()
    if not args.early_answers:
        storage, opening = prepare_full_path(settings, None)
        return serve_prepared(settings, storage, opening, output_fd, None)
    # Imported late so that --help and --version answer at once; see early.start.
    from plue_sidecar.early.start import SWITCH_INTERVAL_SECONDS, EarlyStart  # noqa: PLC0415

    early = EarlyStart(settings, 0, output_fd)
    early.open()
    # Process-wide state, set here: until the full path's loop handles SIGTERM (see
    # `app`), it ends the early answers; while the imports run on their thread beside
    # them, a message waits less for the interpreter.
    signal.signal(signal.SIGTERM, early.terminate)
    with switch_interval(SWITCH_INTERVAL_SECONDS if early.answers_early else None):
        handover = early.run(lambda: prepare_full_path(settings, early.lock))
    storage, opening = handover.prepared
    return serve_prepared(settings, storage, opening, output_fd, handover)


@contextmanager
def switch_interval(seconds: float | None) -> Iterator[None]:
    """The interpreter's thread switch interval set to `seconds` meanwhile (None: as is)."""
    if seconds is None:
        yield
        return
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def keep_out_pydantic_plugins() -> None:
    """Installed packages' pydantic plugins would see every model the sidecar validates,
    every message of every session included: none is loaded unless whoever launches it
    sets `PYDANTIC_DISABLE_PLUGINS` otherwise. (Looking for them also scanned every
    installed distribution's metadata inside the first request: about 3.5 ms.)"""
    os.environ.setdefault(PYDANTIC_PLUGINS_VARIABLE, "__all__")


def prepare_full_path(
    settings: Settings, lock: DataDirLock | None
) -> tuple[SessionStorage, Opening]:
    """Import the full path and start opening the data directory (`lock`: held
    already by the early answers)."""
    from plue_sidecar.core.opening import start_opening  # noqa: PLC0415
    from plue_sidecar.store.session_store import SessionStore  # noqa: PLC0415
    from plue_sidecar.store.storage import SessionStorage  # noqa: PLC0415

    storage = SessionStorage(SessionStore(settings.data_dir, lock), settings.checkpoint_every)
    opening = start_opening(storage)
    import plue_sidecar.app  # noqa: F401, PLC0415 - the rest, while the data dir opens

    return storage, opening


def serve_prepared(
    settings: Settings,
    storage: SessionStorage,
    opening: Opening,
    output_fd: int,
    handover: Handover[Any] | None,
) -> int:
    from plue_sidecar.app import serve  # noqa: PLC0415

    return serve(settings, storage, opening, output_fd, handover)


def run_doctor(data_dir: Path) -> int:
    from plue_sidecar.doctor import examine  # noqa: PLC0415

    report = examine(data_dir)
    _report(report.lines())
    return 1 if report.problems else 0


def run_recover(data_dir: Path) -> int:
    from plue_sidecar.store.disk.lock import DataDirLockedError  # noqa: PLC0415
    from plue_sidecar.store.log_recovery import recover_quarantined_logs  # noqa: PLC0415

    if not data_dir.is_dir():
        _report([f"{data_dir} is not a directory"])
        return 1
    try:
        recovery = recover_quarantined_logs(data_dir.absolute())
    except DataDirLockedError as exc:
        _report(
            [
                f"{data_dir} is in use by a running sidecar (pid {exc.holder_pid}); nothing "
                "was changed: stop it, then run `plue-sidecar doctor --recover` again"
            ]
        )
        return DATA_DIR_IN_USE
    except OSError as exc:
        _report([f"could not load {data_dir}: {exc}; nothing was recovered"])
        return 1
    _report(recovery.lines())
    return 1 if recovery.left else 0


def _report(lines: list[str]) -> None:
    for line in lines:
        print(line)  # stdout-ok: doctor is a command-line report, not the protocol
