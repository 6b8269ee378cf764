"""The open image, its mask, undo history and brush maths, Qt-free."""
