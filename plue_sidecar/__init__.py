"""plue-sidecar: the process that owns Plue's sessions and speaks JSON-RPC on stdio."""

__version__ = "0.1.0"
