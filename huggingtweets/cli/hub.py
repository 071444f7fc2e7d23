"""CLI commands (filled in by the hub stage)."""

COMMANDS: list = []
