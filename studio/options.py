"""Typed per-run options: each tool has one frozen dataclass whose fields carry their default,
bounds and help text.

A field is declared with one of the helpers below (`number`, `choice`, `flag`, `box`, `pairs`);
its `Spec` is all the CLI needs to build an argument and the GUI needs to build a control, and
`check` is the one place a value is validated, so a bad value gets the same one-line message
from either shell. Options classes call `validate(self)` in `__post_init__`: an options object
that exists is valid. Qt-free and torch-free, so the CLI and the GUI can read it at start-up.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError

Box = tuple[int, int, int, int]  # x, y, w, h in image pixels


@dataclass(frozen=True)
class Spec:
    kind: str  # "int", "float", "choice", "bool", "box" or "pairs" (NAME=VALUE settings)
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    none: str = ""  # what None means ("auto", "random"...); "" = None is not allowed
    flag: str = ""  # the CLI flag; default --NAME (underscores become dashes)
    metavar: str | None = None
    label: str = ""  # the GUI's label; default NAME capitalised
    step: float = 1.0  # the GUI's step
    percent: bool = False  # a 0..1 float the GUI shows as 0..100 %
    gui: bool = True  # a control in the tool panel (False: the panel supplies it, e.g. the face box)
    enabled_if: tuple[str, tuple] | None = None  # (other field, its values) under which it applies
    required: bool = False  # the CLI must be given it


def _field(default, spec: Spec):
    return field(default=default, metadata={"spec": spec})


def number(default, help: str, *, lo=None, hi=None, integer: bool = True, **kw):
    """An int (or with integer=False a float) within [lo, hi]; none="..." allows None."""
    return _field(default, Spec("int" if integer else "float", help, lo=lo, hi=hi, **kw))


def choice(default: str, choices: tuple[str, ...], help: str, **kw):
    return _field(default, Spec("choice", help, choices=tuple(choices), **kw))


def flag(default: bool, help: str, **kw):
    """On/off. The CLI flag turns the default around (--no-NAME for a default of True)."""
    return _field(default, Spec("bool", help, **kw))


def box(help: str, **kw):
    """An optional x,y,w,h rectangle (the CLI's --box, the GUI's face box)."""
    return _field(None, Spec("box", help, **{"none": "detect", "metavar": "x,y,w,h", **kw}))


def pairs(help: str, **kw):
    """NAME=VALUE settings (repeatable on the CLI), kept as a tuple of (name, value)."""
    return _field((), Spec("pairs", help, **{"metavar": "NAME=VALUE", **kw}))


def spec(f: dataclasses.Field) -> Spec:
    return f.metadata["spec"]


def fields(cls) -> list[dataclasses.Field]:
    """The option fields of an options class (every field has a Spec)."""
    return [f for f in dataclasses.fields(cls) if "spec" in f.metadata]


def flag_name(f: dataclasses.Field) -> str:
    s = spec(f)
    if s.flag:
        return s.flag
    name = f.name.replace("_", "-")
    return f"--no-{name}" if s.kind == "bool" and f.default else f"--{name}"


def label(f: dataclasses.Field) -> str:
    return spec(f).label or f.name.replace("_", " ").capitalize()


def _bounds(s: Spec) -> str:
    fmt = (lambda v: f"{v:g}") if s.kind == "float" else (lambda v: f"{int(v)}")
    if s.lo is not None and s.hi is not None:
        return f"from {fmt(s.lo)} to {fmt(s.hi)}"
    if s.lo is not None:
        return f"of at least {fmt(s.lo)}"
    return f"of at most {fmt(s.hi)}" if s.hi is not None else ""


def _want(s: Spec) -> str:
    if s.kind == "int":
        return f"a whole number {_bounds(s)}".rstrip()
    if s.kind == "float":
        return f"a number {_bounds(s)}".rstrip()
    if s.kind == "choice":
        return "one of " + ", ".join(s.choices)
    if s.kind == "box":
        return "x,y,w,h in pixels with a positive width and height"
    if s.kind == "pairs":
        return "NAME=VALUE settings (e.g. Smiling=1)"
    return "on or off"


def check(s: Spec, name: str, value: Any, typed: str | None = None) -> Any:
    """The value in its canonical type, or StudioError("NAME wants ..., got ..."); `typed` is
    the text the value was read from, for the message."""
    if value is None and s.none:
        return None
    try:
        if s.kind in ("int", "float"):
            if isinstance(value, bool):
                raise ValueError
            v = float(value)
            if s.kind == "int":
                if v != int(v):
                    raise ValueError
                v = int(v)
            if math.isnan(v) or (s.lo is not None and v < s.lo) or (s.hi is not None and v > s.hi):
                raise ValueError
            return v
        if s.kind == "choice":
            if value not in s.choices:
                raise ValueError
            return value
        if s.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if s.kind == "box":
            x, y, w, h = (int(v) for v in value)
            if w <= 0 or h <= 0:
                raise ValueError
            return x, y, w, h
        if s.kind == "pairs":
            return tuple((str(k), float(v)) for k, v in value)
    except (TypeError, ValueError):
        pass
    raise StudioError(f"{name} wants {_want(s)}, got {repr(value) if typed is None else typed}")


def validate(options) -> None:
    """Check every field of a frozen options object and store its canonical value."""
    for f in fields(type(options)):
        value = check(spec(f), label(f), getattr(options, f.name))
        object.__setattr__(options, f.name, value)


def parse_text(s: Spec, name: str, text: str) -> Any:
    """A value typed on the command line -> the field's value (StudioError when it is not one)."""
    if s.kind == "box":
        try:
            return check(s, name, [int(v) for v in text.split(",")] if text.count(",") == 3 else (), repr(text))
        except ValueError:
            raise StudioError(f"{name} wants {_want(s)}, got {text!r}") from None
    if s.kind == "pairs":
        key, sep, value = text.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            return key.strip(), float(value)
        except ValueError:
            raise StudioError(f"{name} wants NAME=VALUE (e.g. Smiling=1), got {text!r}") from None
    if s.kind in ("int", "float"):
        try:
            value = float(text)
        except ValueError:
            raise StudioError(f"{name} wants {_want(s)}, got {text!r}") from None
        return check(s, name, value, repr(text))
    return check(s, name, text, repr(text))

