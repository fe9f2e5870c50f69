"""The one config parser, :func:`colliderlab.configs.from_dict`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from colliderlab.configs import ConfigError, ConfigKeyError, ConfigTypeError, from_dict


@dataclass(frozen=True)
class Inner:
    width: int = 4
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    lr: float = 1e-3
    steps: int | None = None
    label: str | None = None
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[float, str] = (0.0, "a")
    weights: str | tuple[float, ...] | None = None
    mode: Literal["a", "b"] = "a"
    inner: Inner = field(default_factory=Inner)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass(frozen=True)
class Required:
    a: float
    b: int = 0


def test_unknown_keys_are_named_with_the_valid_ones() -> None:
    with pytest.raises(KeyError, match=r"'trainer\.learnig_rate': unknown key; valid keys of 'trainer': name, lr,"):
        from_dict(Outer, {"learnig_rate": 1}, "trainer")
    with pytest.raises(ConfigKeyError, match=r"'foo': unknown key \(and 'bar'\); valid keys: name, lr"):
        from_dict(Outer, {"foo": 1, "bar": 2})
    with pytest.raises(ConfigKeyError, match=r"'trainer\.inner\.depth': unknown key; valid keys of 'trainer\.inner': "
                                             r"width, rate"):
        from_dict(Outer, {"inner": {"depth": 3}}, "trainer")
    with pytest.raises(ValueError, match=r"'a': missing key"):  # a ConfigKeyError is a ValueError too
        from_dict(Required, {})


def test_numeric_strings_become_the_fields_number_type() -> None:
    c = from_dict(Outer, {"lr": "3e-4", "steps": "100", "inner": {"width": "8", "rate": "1e-2"}})
    assert c.lr == 3e-4 and isinstance(c.lr, float)
    assert c.steps == 100 and isinstance(c.steps, int)
    assert c.inner == Inner(8, 1e-2)
    # strings stay strings where a string is allowed; an integer in a float field stays as written
    c = from_dict(Outer, {"name": "1e3", "label": "2", "weights": "balanced", "lr": 2})
    assert (c.name, c.label, c.weights, c.lr) == ("1e3", "2", "balanced", 2)
    assert from_dict(Outer, {"steps": None}).steps is None


def test_lists_become_tuples_and_nested_dataclasses_are_parsed() -> None:
    c = from_dict(Outer, {"sizes": [3, "4"], "pair": [1, "b"], "weights": [1, 2.5], "inner": {"width": 2},
                          "options": {"hidden": [1, 2]}})
    assert c.sizes == (3, 4) and c.pair == (1, "b") and c.weights == (1, 2.5)
    assert c.inner == Inner(width=2)
    assert c.options == {"hidden": [1, 2]}  # Any values are left as given
    assert from_dict(Outer, {"inner": None}).inner == Inner()  # an empty YAML section
    assert from_dict(Outer, {"inner": Inner(3)}).inner == Inner(3)


def test_errors_of_the_dataclass_name_where_they_happened() -> None:
    with pytest.raises(ConfigError, match=r"in 'trainer': lr must be > 0, got -1"):
        from_dict(Outer, {"lr": -1}, "trainer")
    with pytest.raises(ConfigTypeError, match=r"in 'trainer\.inner': expected a mapping of keys to values, got list"):
        from_dict(Outer, {"inner": [1]}, "trainer")
    with pytest.raises(TypeError, match="expected a mapping"):
        from_dict(Outer, "lr=3")


def test_strict_mode_checks_every_scalar() -> None:
    assert from_dict(Inner, {"width": 2, "rate": 1}, strict=True).rate == 1.0
    assert isinstance(from_dict(Inner, {"rate": 1}, strict=True).rate, float)
    with pytest.raises(ConfigError, match=r"'card\.width': expected an integer, got 'wide'"):
        from_dict(Inner, {"width": "wide"}, "card", strict=True)
    with pytest.raises(ConfigError, match=r"'rate': expected a number, got True"):
        from_dict(Inner, {"rate": True}, strict=True)
    with pytest.raises(ConfigError, match=r"'sizes': expected a list"):
        from_dict(Outer, {"sizes": 3}, strict=True)
    with pytest.raises(ConfigError, match=r"'sizes\[1\]': expected an integer"):
        from_dict(Outer, {"sizes": [1, "x"]}, strict=True)
    with pytest.raises(ConfigError, match=r"'name': expected a str, got 3"):
        from_dict(Outer, {"name": 3}, strict=True)
