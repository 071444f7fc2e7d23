"""Fixtures of the data stage (loaded by conftest as a plugin)."""
