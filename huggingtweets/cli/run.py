"""CLI commands (filled in by the run stage)."""

COMMANDS: list = []
