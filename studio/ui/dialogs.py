"""Message boxes in one place: plain words for the user, details folded away.

Tests replace these functions (or QMessageBox.exec) to answer without a person.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.errors import StudioError

SAVE, SAVE_PROJECT, DISCARD, CANCEL = "save", "save project", "discard", "cancel"


def show_error(parent: QWidget | None, title: str, text: str, details: str | None = None) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def show_exception(parent: QWidget | None, what: str, error: BaseException, details: str = "") -> None:
    """A StudioError is the user's to fix: its message alone. Anything else is our bug."""
    if isinstance(error, StudioError):
        show_error(parent, what, error.gui or str(error))
    elif isinstance(error, MemoryError):
        show_error(parent, what, "Not enough memory for this. Try a smaller image or tile size.", details)
    else:
        show_error(parent, what, f"Something went wrong ({type(error).__name__}: {error}). "
                   "The image was not changed; the details below help a bug report.", details)


def ask_yes_no(parent: QWidget | None, title: str, text: str, *, default_yes: bool = False,
               yes: str = "", no: str = "") -> bool:
    """Enter answers the default: No unless default_yes (when yes keeps the user's work).
    yes/no: button texts in place of Yes and No."""
    buttons = QMessageBox.StandardButton
    box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons.Yes | buttons.No, parent)
    for button, label in ((buttons.Yes, yes), (buttons.No, no)):
        if label:
            box.button(button).setText(label)
    box.setDefaultButton(buttons.Yes if default_yes else buttons.No)
    box.setEscapeButton(buttons.No)
    box.exec()
    return box.clickedButton() is box.button(buttons.Yes)


def ask_save_changes(parent: QWidget | None, name: str, *, mask: bool = False, image: bool = True) -> str:
    """SAVE, SAVE_PROJECT, DISCARD or CANCEL for unsaved changes to `name`. mask: the mask holds
    unsaved work that only a project keeps (image: and so does the image), so Save project is
    offered first and Save (the image) only when the image changed."""
    buttons = QMessageBox.StandardButton
    text = f"Save the changes to {name}?"
    if mask:
        text += ("\n\nThe mask is not part of an image file: a project file keeps the image, the mask and "
                 "the undo history.")
    box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes", text, buttons.Discard | buttons.Cancel, parent)
    answers = {box.button(buttons.Discard): DISCARD}
    if mask:
        project = box.addButton("Save &project…", QMessageBox.ButtonRole.AcceptRole)
        answers[project] = SAVE_PROJECT
        box.setDefaultButton(project)
    if image or not mask:
        save = box.addButton(buttons.Save)
        if mask:
            save.setText("Save &image…")
        answers[save] = SAVE
        if not mask:
            box.setDefaultButton(save)
    box.setEscapeButton(buttons.Cancel)
    box.exec()
    return answers.get(box.clickedButton(), CANCEL)
