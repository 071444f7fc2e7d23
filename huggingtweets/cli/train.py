"""CLI commands (filled in by the train stage)."""

COMMANDS: list = []
