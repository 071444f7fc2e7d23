"""Fixtures of the train stage (loaded by conftest as a plugin)."""
