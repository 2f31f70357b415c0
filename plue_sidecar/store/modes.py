"""The permissions of what the sidecar creates: conversations are the user's alone."""

FILE_MODE = 0o600
DIR_MODE = 0o700
