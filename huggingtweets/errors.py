"""One error hierarchy for the whole package.

The library raises these; only the CLI turns them into a one-line message and exit code 1
(see ``huggingtweets.cli``). Each message names the bad value, what was expected, and,
where one exists, the command or flag that fixes it (``hint``).
"""

from __future__ import annotations


class HuggingtweetsError(Exception):
    """Base class. ``str(err)`` is the one line shown to the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Keep it to one line: a user-facing error is read in a terminal or a CI log.
        self.message = " ".join(str(message).split())
        self.hint = " ".join(hint.split()) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(HuggingtweetsError):
    """A path, file, flag or config value that cannot be used as given."""


class SourceError(InputError):
    """An archive, posts file or API answer that does not hold what was expected."""


class NotEnoughDataError(InputError):
    """Too little text is left after cleaning to train a bot."""


class XApiError(HuggingtweetsError):
    """The X API refused or failed (bad token, tier, unknown/protected user)."""


class TrainingError(HuggingtweetsError):
    """Training could not start or stopped (bad base model, NaN loss, empty data)."""


class CardError(HuggingtweetsError):
    """The model card cannot be rendered or its metadata is invalid."""


class HubError(HuggingtweetsError):
    """The Hub refused or failed (auth, ownership, missing repo, server errors).

    ``status``: the HTTP status the Hub answered (404 = absent, ...), None when there was no
    answer; callers branch on it instead of parsing the message.
    """

    def __init__(self, message: str, *, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class StageError(HuggingtweetsError):
    """A pipeline stage is missing its inputs (an earlier stage has not run)."""


class Cancelled(HuggingtweetsError):
    """The caller cancelled long-running work (``events.CancelToken``); what was done is kept."""

    exit_code = 130
