"""CLI commands (filled in by the card stage)."""

COMMANDS: list = []
