"""CLI commands (filled in by the data stage)."""

COMMANDS: list = []
