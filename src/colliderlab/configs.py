"""One parser from a (YAML/JSON) mapping to a frozen config dataclass: :func:`from_dict`.

Every config of the project (experiments, trainer, baselines, quantisation, HLS, detector cards,
representations) is parsed by it, so every config error reads the same way: the dotted key at
fault, what is wrong with it and, for an unknown key, the valid ones. Field types are read from
the dataclass's real type hints (:func:`typing.get_type_hints`), never by matching hint strings:

* a nested dataclass field is parsed recursively from its mapping (``where`` grows a ``.key``);
* a ``tuple[...]`` field takes a list (JSON and YAML have no tuples), element types converted;
* a number field takes a numeric string: YAML 1.1 reads ``3e-4`` (no dot) as the string
  ``"3e-4"``;
* ``X | None`` takes ``None``; other unions take the first member the value fits.

Values are otherwise passed through for the dataclass (its ``__post_init__``) to check. With
``strict=True`` every scalar is type-checked as well and integers become floats in float fields
(detector cards, whose numbers must all be numbers).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["ConfigError", "ConfigKeyError", "ConfigTypeError", "from_dict"]

T = TypeVar("T")
_NONE = type(None)


class ConfigError(ValueError):
    """A config value that does not fit its dataclass. ``key`` is the dotted path at fault ("" for
    the whole mapping) and ``message`` what is wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(key, message)
        self.key = key
        self.message = message

    def __str__(self) -> str:
        return f"in '{self.key}': {self.message}" if self.key else self.message


class ConfigKeyError(ConfigError, KeyError):
    """An unknown or missing key (a ``KeyError`` too)."""

    def __str__(self) -> str:
        return f"'{self.key}': {self.message}" if self.key else self.message


class ConfigTypeError(ConfigError, TypeError):
    """A value of the wrong kind, e.g. a list where a mapping belongs (a ``TypeError`` too)."""


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def from_dict(cls: type[T], mapping: Any, where: str = "", *, strict: bool = False) -> T:
    """Build dataclass ``cls`` from ``mapping``, refusing unknown keys.

    Args:
        cls: a dataclass type.
        mapping: its fields by name (missing fields take their defaults).
        where: dotted path of ``mapping`` in the enclosing config (e.g. ``"trainer"``), used in
            every error message; ``""`` for a top-level mapping.
        strict: type-check every scalar too (see the module docstring).
    Returns:
        ``cls(**converted)``.
    Raises:
        ConfigKeyError: an unknown key (the message lists the valid ones) or a missing required one.
        ConfigTypeError: ``mapping`` (or a nested section) is not a mapping, or the dataclass
            refused a value with a ``TypeError``.
        ConfigError: the dataclass refused a value with a ``ValueError`` (its message kept), or,
            with ``strict``, a scalar of the wrong type.
    """
    if not isinstance(mapping, Mapping):
        raise ConfigTypeError(where, f"expected a mapping of keys to values, got {type(mapping).__name__} "
                                     f"{mapping!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in mapping if k not in fields]
    if unknown:
        more = f" (and {', '.join(repr(_join(where, k)) for k in unknown[1:])})" if unknown[1:] else ""
        raise ConfigKeyError(
            _join(where, unknown[0]),
            f"unknown key{more}; valid keys{f' of {where!r}' if where else ''}: {', '.join(fields)}",
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name in mapping:
            kwargs[name] = _convert(hints[name], mapping[name], key, strict)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigKeyError(key, "missing key")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except TypeError as err:
        raise ConfigTypeError(where, str(err)) from err
    except ValueError as err:
        raise ConfigError(where, str(err)) from err


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _number(tp: type, value: Any) -> Any:
    """``value`` as an ``int`` or ``float`` when it is a number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            return tp(value)
        except ValueError:
            return None
    if tp is float and isinstance(value, (int, float)):
        return value
    if tp is int and isinstance(value, int):
        return value
    return None


def _fits(tp: Any, value: Any) -> bool:
    """Whether ``value`` can be a ``tp`` (used to pick a member of a union)."""
    if tp is Any:
        return True
    if _is_dataclass_type(tp):
        return isinstance(value, (tp, Mapping))
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if origin in (tuple, list) or tp in (tuple, list):
        return isinstance(value, (list, tuple))
    if origin in (dict, Mapping) or tp in (dict, Mapping) or (origin and issubclass(origin, Mapping)):
        return isinstance(value, Mapping)
    if tp in (int, float):
        return _number(tp, value) is not None
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def _convert(tp: Any, value: Any, key: str, strict: bool) -> Any:
    """``value`` converted to the annotated type ``tp`` (see the module docstring)."""
    if _is_dataclass_type(tp):
        if isinstance(value, tp):
            return value
        if value is None and not strict:  # an empty YAML section (``trainer:``)
            value = {}
        return from_dict(tp, value, key, strict=strict)
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and _NONE in args:
            return None
        members = [a for a in args if a is not _NONE]
        if len(members) == 1:  # ``X | None``
            return _convert(members[0], value, key, strict)
        if isinstance(value, str) and str in members:
            return value  # a string field keeps "3e-4" as written
        for member in members:
            if _fits(member, value):
                return _convert(member, value, key, strict)
        if strict:
            raise ConfigError(key, f"expected one of {', '.join(map(_name, members))}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            if strict:
                raise ConfigError(key, f"expected a list, got {value!r}")
            return value
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif len(args) != len(value):  # a fixed-length tuple: the dataclass names the problem
            return tuple(value)
        return tuple(_convert(a, v, f"{key}[{i}]", strict) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if tp in (int, float):
        number = _number(tp, value)
        if number is None:
            if strict:
                raise ConfigError(key, f"expected {'a number' if tp is float else 'an integer'}, got {value!r}")
            return value
        return float(number) if strict and tp is float else number
    if strict and tp is not Any and origin is None and isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(key, f"expected a {tp.__name__}, got {value!r}")
    return value
