"""Task settings declared once: a dataclass whose fields carry their help, bounds and choices.

A task declares its settings as a dataclass deriving from :class:`Config`, each field made with
:func:`option`. From that one declaration come

* the validation (:meth:`Config.validate`): types from the annotations, bounds, choices, then
  the class's own cross-field :meth:`Config.check`; messages in rnnkit's argument / expected /
  received form ("SentimentConfig: `maxlen` expected an integer in [1, 100000], received 0
  (int).");
* the command-line options (:meth:`Config.add_arguments`): ``--field-name`` with the type,
  bounds and choices checked by argparse itself ("argument --maxlen: expected an integer in
  [1, 100000], received 0"), the help text with the choices and the default;
* loading from JSON (:meth:`Config.from_dict`): unknown keys refused, every value checked.

>>> from dataclasses import dataclass
>>> @dataclass
... class DemoConfig(Config):
...     units: int = option(128, "hidden size", low=1, high=4096)
...     cell: str = option("lstm", "recurrent cell", choices=("lstm", "gru"))
...     clipnorm: float | None = option(None, "clip gradients to this norm", low=0, low_open=True)
>>> DemoConfig(units=0).validate()
Traceback (most recent call last):
ValueError: DemoConfig: `units` expected an integer in [1, 4096], received 0 (int).

Supported field types: ``int``, ``float``, ``str``, ``bool`` and each of them ``| None``.
A ``bool`` option is ``--name`` when its default is False and ``--name/--no-name`` otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from . import _validation as V

__all__ = ["Config", "bound_text", "option"]

_KINDS = (int, float, str, bool)


def option(
    default: Any,
    help: str,
    *,
    choices: Iterable[Any] | None = None,
    low: float | Callable[[], float] | None = None,
    high: float | Callable[[], float] | None = None,
    low_open: bool = False,
    high_open: bool = False,
    metavar: str | None = None,
    flag: str | None = None,
    cli: bool = True,
) -> Any:
    """A dataclass field with its help text, bounds and choices (the default written once).

    Args:
        default: the default value (a scalar: int, float, str, bool or None).
        help: one line for ``--help`` (the choices and the default are appended there).
        choices: the allowed values, if they are a fixed set.
        low, high: inclusive bounds for a number (or callables giving them, for bounds known
            only at run time such as the number of CPU cores); ``low_open`` / ``high_open``
            make a bound exclusive.
        metavar: the value's name in ``--help`` (default: the field name in capitals).
        flag: the option's name on the command line (default: ``--field-name``).
        cli: False to keep the field out of the command line (still validated and saved).
    """
    if not help or not help.strip():
        raise ValueError("option: `help` expected a non-empty description, received ''.")
    meta = {
        "help": help,
        "choices": tuple(choices) if choices is not None else None,
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "metavar": metavar,
        "flag": flag,
        "cli": cli,
    }
    return dataclasses.field(default=default, metadata=meta)


# -- field descriptions -----------------------------------------------------------------------
def _resolve(bound):
    return bound() if callable(bound) else bound


def _number(x) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def bound_text(kind: type, meta: dict) -> str:
    """What a value of this field must be, in words: 'a positive integer', 'an integer in
    [1, 100000]', 'a number in [0, 1)'."""
    low, high = _resolve(meta.get("low")), _resolve(meta.get("high"))
    lo_open, hi_open = meta.get("low_open", False), meta.get("high_open", False)
    if kind is int:
        if high is None and low == 0 and not lo_open:
            return "a non-negative integer"
        if high is None and ((low == 1 and not lo_open) or (low == 0 and lo_open)):
            return "a positive integer"
        noun = "an integer"
    elif kind is float:
        if high is None and low == 0:
            return "a positive number" if lo_open else "a non-negative number"
        noun = "a number"
    else:
        return {str: "a string", bool: "True or False"}[kind]
    if low is not None and high is not None:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        return f"{noun} in {left}{_number(low)}, {_number(high)}{right}"
    if low is not None:
        return f"{noun} {'>' if lo_open else '>='} {_number(low)}"
    if high is not None:
        return f"{noun} {'<' if hi_open else '<='} {_number(high)}"
    return noun


def _field_kind(cls, f: dataclasses.Field) -> tuple[type, bool]:
    """(scalar type, whether None is allowed) from the field's annotation."""
    hint = typing.get_type_hints(cls)[f.name]
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}: field `{f.name}` has an unsupported type {hint}.")
        hint = args[0]
    if hint not in _KINDS:
        raise TypeError(
            f"{cls.__name__}: field `{f.name}` has an unsupported type {hint}; "
            "expected int, float, str or bool, optionally | None."
        )
    return hint, optional


def _expected(kind: type, optional: bool, meta: dict) -> str:
    if meta.get("choices") is not None:
        text = "one of " + ", ".join(repr(c) for c in meta["choices"])
    else:
        text = bound_text(kind, meta)
    return f"None or {text}" if optional else text


def _check_value(owner: str, name: str, kind: type, optional: bool, meta: dict, value: Any):
    """The value, checked against the field's type, choices and bounds (TypeError for a wrong
    type, ValueError for a value out of range); ints are accepted where floats are."""
    if value is None and optional:
        return None
    expected = _expected(kind, optional, meta)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        V.fail(owner, name, expected, value, TypeError)
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            V.fail(owner, name, expected, value)
        return value
    if kind in (int, float):
        if kind is float and not math.isfinite(value):
            V.fail(owner, name, expected, value)
        low, high = _resolve(meta.get("low")), _resolve(meta.get("high"))
        if low is not None and (value <= low if meta.get("low_open") else value < low):
            V.fail(owner, name, expected, value)
        if high is not None and (value >= high if meta.get("high_open") else value > high):
            V.fail(owner, name, expected, value)
    return value


# -- the base class ---------------------------------------------------------------------------
class Config:
    """Base of task settings dataclasses (see the module's docstring).

    A subclass is a ``@dataclass`` whose fields are made with :func:`option`; it may override
    :meth:`check` for rules that involve several fields.
    """

    owner: ClassVar[str | None] = None  # the name in messages (default: the class name)

    @classmethod
    def _owner(cls) -> str:
        return cls.owner or cls.__name__

    @classmethod
    def option_fields(cls) -> list[tuple[dataclasses.Field, type, bool]]:
        """Every field with its scalar type and whether it may be None."""
        return [(f, *_field_kind(cls, f)) for f in dataclasses.fields(cls)]

    def check(self) -> None:
        """Rules across fields (a subclass overrides this); each field is already valid."""

    def validate(self):
        """Check every field (type, choices, bounds), then :meth:`check`; returns ``self``."""
        owner = self._owner()
        for f, kind, optional in self.option_fields():
            _check_value(owner, f.name, kind, optional, f.metadata, getattr(self, f.name))
        self.check()
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with ``changes`` (``dataclasses.replace``; a subclass whose defaults depend
        on another field overrides it)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Any):
        """A validated config from a dict (e.g. read from JSON); unknown keys are refused,
        missing ones take their defaults."""
        owner = cls._owner()
        if not isinstance(data, dict):
            V.fail(owner, "data", "a dict of settings", data, TypeError)
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{owner}: unknown settings {unknown}; expected some of {known}.")
        return cls(**data).validate()

    # -- the command line ---------------------------------------------------------------------
    @classmethod
    def add_arguments(
        cls,
        parser: argparse.ArgumentParser,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        title: str | None = None,
    ):
        """Add one option per field (those named in ``include``, all by default, less those in
        ``exclude``) to ``parser`` (a parser or an argument group), in a new argument group
        when ``title`` is given. Returns ``parser``."""
        include = set(include) if include is not None else None
        target = parser.add_argument_group(title) if title else parser
        owner = cls._owner()
        for f, kind, optional in cls.option_fields():
            meta = f.metadata
            if "help" not in meta or not meta["cli"]:
                continue
            if (include is not None and f.name not in include) or f.name in exclude:
                continue
            flag = meta["flag"] or "--" + f.name.replace("_", "-")
            help_text = meta["help"].replace("%", "%%")
            if meta["choices"] is not None:
                help_text += "; one of " + ", ".join(str(c) for c in meta["choices"])
            elif kind in (int, float) and meta["high"] is not None:
                help_text += f"; {bound_text(kind, meta)}"
            help_text += " (default: %(default)s)"  # whatever the parser's formatter
            if kind is bool:
                action = "store_true" if f.default is False else argparse.BooleanOptionalAction
                target.add_argument(
                    flag, dest=f.name, action=action, default=f.default, help=help_text
                )
                continue
            target.add_argument(
                flag,
                dest=f.name,
                default=f.default,
                type=_argparse_type(owner, f.name, kind, optional, meta),
                metavar=meta["metavar"] or f.name.upper(),
                help=help_text,
            )
        return parser

    @classmethod
    def from_args(cls, args: argparse.Namespace, **overrides):
        """The config from parsed arguments (fields not on the command line keep their
        defaults), validated."""
        values = {
            f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)
        }
        values.update(overrides)
        return cls(**values).validate()


def _argparse_type(owner: str, name: str, kind: type, optional: bool, meta: dict):
    """argparse's ``type=``: parse the string, then check it as :meth:`Config.validate` does;
    failures become argparse's own "argument --x: expected ..., received ..." errors."""

    def parse(text: str):
        expected = _expected(kind, False, meta)
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}") from None
        try:
            _check_value(owner, name, kind, False, meta, value)
        except (TypeError, ValueError):
            shown = repr(text) if kind is str else text
            raise argparse.ArgumentTypeError(f"expected {expected}, received {shown}") from None
        return value

    parse.__name__ = kind.__name__
    return parse
