"""Controls built from a tool's options class: one row per field its Spec shows in the GUI.

Bounds, defaults, steps and tooltips come from the Spec, so the GUI offers what the CLI accepts;
a field that only applies under another field's values (enabled_if) is greyed out otherwise.
`options()` returns a validated options object.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from studio import options as opt
from studio.errors import StudioError

SPIN_LIMIT = 2**31 - 1  # QSpinBox holds a C int


def _none_position(s: opt.Spec) -> int:
    """The spin value that stands for None: 0 when the bounds allow, else just below lo."""
    return min(0, int(s.lo) - 1)


class OptionsForm(QWidget):
    changed = Signal(str)  # the field's name

    def __init__(self, options_class, parent=None):
        super().__init__(parent)
        self.options_class = options_class
        self.controls: dict[str, QWidget] = {}
        self._fields = {f.name: f for f in opt.fields(options_class) if opt.spec(f).gui}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for f in self._fields.values():
            control = self._control(opt.spec(f), f.default, f.name)
            control.setToolTip(opt.spec(f).help)
            self.controls[f.name] = control
            if isinstance(control, QCheckBox):
                control.setText(opt.label(f))
                form.addRow(control)
            else:
                form.addRow(opt.label(f) + ":", control)
        self.changed.connect(lambda _name: self._update_enabled())
        self._update_enabled()

    def _control(self, s: opt.Spec, default, name: str) -> QWidget:
        def changed(*_):
            self.changed.emit(name)

        if s.kind in ("int", "float") and (s.lo is None or s.hi is None or (s.none and s.kind == "float")):
            raise ValueError(f"option {name!r}: a GUI number needs both bounds (and None only for whole "
                             "numbers); give it bounds or gui=False")

        if s.kind == "choice":
            w = QComboBox()
            w.addItems(list(s.choices))
            w.currentTextChanged.connect(changed)
        elif s.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(changed)
        elif s.kind == "float" and not s.percent:
            w = QDoubleSpinBox(minimum=s.lo, maximum=s.hi, singleStep=s.step)
            w.valueChanged.connect(changed)
        elif s.kind in ("int", "float"):
            w = QSpinBox()
            if s.percent:
                w.setRange(round(100 * s.lo), round(100 * s.hi))
                w.setSuffix(" %")
                w.setSingleStep(round(100 * s.step))
            else:
                w.setRange(_none_position(s) if s.none else int(s.lo), min(SPIN_LIMIT, int(s.hi)))
                w.setSingleStep(int(s.step))
                if s.none:
                    w.setSpecialValueText(s.none)
            w.valueChanged.connect(changed)
        else:
            raise ValueError(f"no GUI control for a {s.kind!r} option; give it gui=False")
        self._set(w, s, default)
        return w

    @staticmethod
    def _set(w: QWidget, s: opt.Spec, value) -> None:
        if isinstance(w, QComboBox):
            w.setCurrentText(value)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif s.percent:
            w.setValue(round(100 * value))
        elif value is None:
            w.setValue(_none_position(s))
        else:
            w.setValue(value)

    @staticmethod
    def _get(w: QWidget, s: opt.Spec):
        if isinstance(w, QComboBox):
            return w.currentText()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if s.percent:
            return w.value() / 100
        if s.none and w.value() == _none_position(s):
            return None
        return max(s.lo, w.value()) if s.lo is not None else w.value()  # typed below lo: the least allowed

    def applies(self, name: str) -> bool:
        """Whether a field applies under the current values of the others (enabled_if)."""
        cond = opt.spec(self._fields[name]).enabled_if
        if cond is None:
            return True
        other, values = cond
        return self._get(self.controls[other], opt.spec(self._fields[other])) in values

    def _update_enabled(self) -> None:
        for name, control in self.controls.items():
            control.setEnabled(self.applies(name))

    def set_value(self, name: str, value) -> None:
        self._set(self.controls[name], opt.spec(self._fields[name]), value)

    def value(self, name: str):
        """A control's value, JSON-ready (for the settings)."""
        return self._get(self.controls[name], opt.spec(self._fields[name]))

    def restore(self, values: dict) -> None:
        """Put back saved values; ones that no longer fit their field are left at the default."""
        for name, value in values.items():
            if name in self.controls:
                try:
                    self.set_value(name, opt.check(opt.spec(self._fields[name]), name, value))
                except (StudioError, TypeError, ValueError):
                    pass

    def options(self, **fixed):
        """The options shown (fields that do not apply keep their defaults); `fixed` supplies
        fields without a control (e.g. the face box)."""
        values = {name: self._get(c, opt.spec(self._fields[name]))
                  for name, c in self.controls.items() if self.applies(name)}
        return self.options_class(**{**values, **fixed})

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.options_class)]
