"""The search space of a hyper-parameter search: experiment keys (the ``--set`` paths) and their ranges.

A space file is a YAML mapping from dotted experiment keys to distributions::

    trainer.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
    trainer.batch_size: {type: categorical, choices: [64, 128, 256]}
    trainer.epochs: {type: int, low: 8, high: 16, step: 4}
    model.options.hidden: [32, 64, 128]          # a list is a categorical choice
    representation.n_particles: {type: int, low: 32, high: 96, step: 16}

Keys are the paths ``colliderlab train --set`` takes: ``data.*``, ``trainer.*``, ``model.name``,
``model.preset``, ``model.options.<field of the model's config>``, ``representation.<option of
the representation kind>``, and the keys of the experiment's ``decorrelation`` and
``quantization`` sections. A key the experiment does not have is refused, listing the valid ones
(:func:`valid_keys`); so are unknown distribution types and empty ranges. Choices may be any
YAML value, lists included (e.g. layer widths ``[[64, 64], [128, 128]]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from colliderlab.train.config import DataConfig, ExperimentConfig, experiment_from_dict
from colliderlab.train.trainer_config import TrainerConfig

__all__ = ["Distribution", "SearchSpace", "valid_keys", "apply_params", "load_space"]

_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Distribution:
    """One key's range: ``float`` / ``int`` in [low, high] (``log`` spacing or a ``step``), or
    ``categorical`` over ``choices``."""

    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    @classmethod
    def from_spec(cls, key: str, spec: Any) -> Distribution:
        if isinstance(spec, (list, tuple)):
            spec = {"type": "categorical", "choices": list(spec)}
        if not isinstance(spec, Mapping):
            raise TypeError(f"space key {key!r}: expected a mapping like {{type: float, low: 1e-4, high: 1e-2}} "
                            f"or a list of choices, got {spec!r}")
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind not in _TYPES:
            raise ValueError(f"space key {key!r}: type {kind!r} is not one of {', '.join(_TYPES)}")
        allowed = {"choices"} if kind == "categorical" else {"low", "high", "log", "step"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ValueError(f"space key {key!r}: unknown field(s) {unknown} for type {kind}; valid: {sorted(allowed)}")
        if kind == "categorical":
            choices = tuple(_hashable(c) for c in spec.get("choices") or ())
            if not choices:
                raise ValueError(f"space key {key!r}: categorical needs a non-empty 'choices' list")
            return cls(kind, choices=choices)
        if "low" not in spec or "high" not in spec:
            raise ValueError(f"space key {key!r}: {kind} needs 'low' and 'high'")
        low, high = float(spec["low"]), float(spec["high"])
        log, step = bool(spec.get("log", False)), spec.get("step")
        if not low <= high:
            raise ValueError(f"space key {key!r}: low = {low:g} is above high = {high:g}")
        if log and (low <= 0 or step is not None):
            raise ValueError(f"space key {key!r}: a log range needs low > 0 and no step")
        if kind == "int" and (low != int(low) or high != int(high)):
            raise ValueError(f"space key {key!r}: an int range needs integer bounds")
        return cls(kind, low, high, log, None if step is None else float(step))

    def suggest(self, trial: Any, key: str) -> Any:
        """The value an Optuna ``trial`` suggests for ``key`` (lists come back as lists)."""
        if self.type == "categorical":
            return self.decode(trial.suggest_categorical(key, [_encode(c) for c in self.choices]))
        if self.type == "int":
            return trial.suggest_int(key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(key, self.low, self.high, step=self.step, log=self.log)

    def decode(self, value: Any) -> Any:
        """The experiment value of what Optuna stored (list choices are stored as YAML strings)."""
        if self.type == "categorical":
            for c in self.choices:
                if _encode(c) == value:
                    return _plain(c)
        return value

    def to_dict(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"type": "categorical", "choices": [_plain(c) for c in self.choices]}
        d: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class SearchSpace:
    """The distributions of the searched keys, in file order."""

    distributions: Mapping[str, Distribution]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSpace:
        if not isinstance(d, Mapping) or not d:
            raise ValueError("a search space is a non-empty mapping of experiment keys (e.g. trainer.lr) "
                             "to distributions")
        return cls({str(k): Distribution.from_spec(str(k), v) for k, v in d.items()})

    def check(self, cfg: ExperimentConfig) -> None:
        """Refuse keys the experiment does not have, listing the valid ones."""
        valid = valid_keys(cfg)
        unknown = [k for k in self.distributions if k not in valid]
        if unknown:
            raise KeyError(f"search space key(s) {unknown} are not keys of the experiment; valid keys: "
                           f"{', '.join(valid)}")

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {k: d.suggest(trial, k) for k, d in self.distributions.items()}

    def decode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A finished trial's stored ``params`` as experiment values."""
        return {k: self.distributions[k].decode(v) for k, v in params.items() if k in self.distributions}

    def to_dict(self) -> dict[str, Any]:
        return {k: d.to_dict() for k, d in self.distributions.items()}


def valid_keys(cfg: ExperimentConfig) -> list[str]:
    """Every key a search (or ``--set``) may change in ``cfg``, sorted."""
    from colliderlab.features.representations import representation_config
    from colliderlab.models.registry import resolve_model
    from colliderlab.train.experiment import default_representation

    keys = {f"data.{f.name}" for f in dataclasses.fields(DataConfig)}
    keys |= {f"trainer.{f.name}" for f in dataclasses.fields(TrainerConfig)}
    keys |= {"model.name", "model.preset", "calibration"}
    keys |= {f"model.options.{f.name}" for f in dataclasses.fields(resolve_model(cfg.model.name).config_cls)}
    rep = dict(cfg.representation) or default_representation(cfg.model.name)
    kind = rep.get("kind")
    if kind:
        keys |= {f"representation.{f.name}" for f in dataclasses.fields(representation_config(kind))}
    for section in ("decorrelation", "quantization"):
        keys |= {f"{section}.{k}" for k in getattr(cfg, section)}
    return sorted(keys)


def apply_params(cfg: ExperimentConfig, params: Mapping[str, Any]) -> ExperimentConfig:
    """``cfg`` with each dotted key of ``params`` set to its value (parsed like an experiment file)."""
    d = cfg.to_dict()
    if not d.get("representation"):
        from colliderlab.train.experiment import default_representation

        d["representation"] = default_representation(cfg.model.name)
    for key, value in params.items():
        *parents, last = key.split(".")
        node = d
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = _plain(value)
    return experiment_from_dict(d)


def load_space(path: str) -> SearchSpace:
    """Read a space file (see the module docstring)."""
    import yaml

    with open(path) as f:
        return SearchSpace.from_dict(yaml.safe_load(f) or {})


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, (list, tuple)) else v


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, (list, tuple)) else v


def _encode(v: Any) -> Any:
    """Optuna stores categorical choices as None, bool, int, float or str: lists travel as YAML."""
    if isinstance(v, tuple):
        import yaml

        return yaml.safe_dump(_plain(v), default_flow_style=True).strip()
    return v

