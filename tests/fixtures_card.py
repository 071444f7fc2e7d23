"""Fixtures of the card stage (loaded by conftest as a plugin)."""
