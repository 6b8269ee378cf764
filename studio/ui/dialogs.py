"""Message boxes in one place: plain words for the user, details folded away.

Tests replace these functions (or QMessageBox.exec) to answer without a person.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.errors import StudioError

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def show_error(parent: QWidget | None, title: str, text: str, details: str | None = None) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def show_exception(parent: QWidget | None, what: str, error: BaseException, details: str = "") -> None:
    """A StudioError is the user's to fix: its message alone. Anything else is our bug."""
    if isinstance(error, StudioError):
        show_error(parent, what, str(error))
    elif isinstance(error, MemoryError):
        show_error(parent, what, "Not enough memory for this. Try a smaller image or tile size.", details)
    else:
        show_error(parent, what, f"Something went wrong ({type(error).__name__}: {error}). "
                   "The image was not changed; the details below help a bug report.", details)


def ask_yes_no(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def ask_save_changes(parent: QWidget | None, name: str) -> str:
    """SAVE, DISCARD or CANCEL for unsaved changes to `name`."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(parent, "Unsaved changes", f"Save the changes to {name}?",
                                  buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
    return {buttons.Save: SAVE, buttons.Discard: DISCARD}.get(answer, CANCEL)
