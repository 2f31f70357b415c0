"""Settings of one sidecar process, from its command line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_SHARE_BASE_URL = "https://plue.app/share/"
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_PENDING_OUTPUT_BYTES = 4 * 1024 * 1024
"""Output waiting for the client beyond which a streaming turn waits for it."""
DEFAULT_HISTORY_CACHE_BYTES = 32 * 1024 * 1024
"""Stored messages the loaded histories hold at most (least recently used go first)."""
DEFAULT_CHECKPOINT_EVERY = 5000
"""Changes between checkpoints: a crash costs a replay of at most about this many."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    share_base_url: str = DEFAULT_SHARE_BASE_URL
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    runner: str = "echo"
    runner_modules: tuple[tuple[str, str], ...] = ()
    """Runners the command line registers: (name, `module:Class`)."""
    echo_delay_ms: int = 0
    abort_grace_ms: int = 2000
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    max_pending_output_bytes: int = DEFAULT_MAX_PENDING_OUTPUT_BYTES
    history_cache_bytes: int = DEFAULT_HISTORY_CACHE_BYTES
