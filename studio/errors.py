"""User-facing errors.

Anything raised as a StudioError carries a message meant for a person: the CLI prints it as
one line (`studio: error: ...`, exit 2) and the GUI shows it in a dialog. Anything else is a
bug and keeps its traceback.
"""


class StudioError(Exception):
    """A problem with the user's input or environment, explained in one sentence.

    gui: the same advice in the window's words, for messages that name CLI flags (the window
    shows it in place of the message; the CLI keeps the message)."""

    def __init__(self, message: str = "", *, gui: str | None = None):
        super().__init__(message)
        self.gui = gui


class ImageError(StudioError):
    """An image or mask could not be read or written."""


class VideoError(StudioError):
    """A video or mask video could not be read or written."""


class CheckpointError(StudioError):
    """A model checkpoint is missing, tampered with or does not fit its architecture."""


class Cancelled(Exception):
    """The user cancelled the job. Not an error: callers stop quietly."""
