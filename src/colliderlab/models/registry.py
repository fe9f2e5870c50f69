"""A tiny model registry: ``@register_model`` on a class, ``create_model(name, preset, **dims)``.

Every registered model is a ``torch.nn.Module`` built from one frozen config dataclass
(``Model(config)``, with ``model.config`` kept so that a checkpoint rebuilds it). A model declares

* ``input_names``: the keys of the representation's batch it takes, in ``forward`` order
  (e.g. ``("x", "mask")``); the trainer calls ``model(*[batch[k] for k in input_names])`` and the
  exporter uses the same names;
* ``representations``: the representation kinds it accepts (``"observables"``, ``"efp"``,
  ``"image"``, ``"particles"``, ``"sequence"``, ``"tree"``);
* ``presets``: named config overrides; every model has ``"paper"`` (parameter count within 10% of
  the published one, given as ``paper_params``) and ``"lite"`` (fast on a CPU).

``forward`` returns (B, n_classes) logits (or (B, n_outputs) for regression heads).

Every spec also declares what it can be trained for, ``tasks`` (the first is the default; see
:data:`TASKS`), and its ``backend`` (:data:`BACKENDS`). Registered models are ``torch`` models:
taggers default to ``("classifier", "regressor")`` (``data.target`` makes a run a regression);
generators declare ``("generator",)``, anomaly scorers ``("scorer",)``. The classical baselines
(:data:`colliderlab.models.baselines.BASELINE_SPECS`) declare theirs too, and
:func:`resolve_model` returns the spec of any name, so the trainer dispatches on the declaration
and never asks a model what it is.

Optional export metadata (read by :mod:`colliderlab.export.onnx`): ``export_unsupported``, a
sentence saying which operation no static graph can express, and ``export_min_particles``, the
smallest particle count an exported program accepts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from colliderlab.models.spec import BACKENDS, TASKS, ModelSpec

__all__ = [
    "ModelSpec", "TASKS", "BACKENDS", "register_model", "create_model", "model_spec", "resolve_model", "list_models",
    "count_params",
]


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    config: type,
    representations: tuple[str, ...],
    presets: Mapping[str, Mapping[str, Any]],
    paper_params: int | None = None,
    reference: str = "",
    tasks: tuple[str, ...] = ("classifier", "regressor"),
) -> Callable[[type], type]:
    """Class decorator adding a model to the registry; a duplicate name is an error. ``tasks``
    declares what the model is trained for (:data:`TASKS`; the first is the default)."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].cls.__name__})")
        for req in ("paper", "lite"):
            if req not in presets:
                raise ValueError(f"model {name!r} needs a {req!r} preset")
        doc = (cls.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelSpec(
            name, cls, config, tuple(representations), dict(presets), paper_params, reference,
            doc[0] if doc else "", tuple(tasks), "torch",
        )
        cls.model_name = name
        return cls

    return wrap


def _load_all() -> None:
    from colliderlab import models  # noqa: F401  (importing the package registers every family)

    models.load_families()


def list_models(generative: bool | None = None) -> list[str]:
    """Names of the registered models, sorted: all of them, only the taggers/regressors
    (``generative=False``) or only the generators and anomaly scorers (``True``: models trained on
    their own loss, :mod:`colliderlab.generative`, :mod:`colliderlab.anomaly`)."""
    _load_all()
    return sorted(n for n, s in _REGISTRY.items()
                  if generative is None or (s.task in ("generator", "scorer")) == generative)


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; an unknown name lists the valid ones."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def resolve_model(name: str) -> ModelSpec:
    """The spec of any model name: a registered torch model or a classical baseline
    (:data:`colliderlab.models.baselines.BASELINE_SPECS`); an unknown name lists both."""
    from colliderlab.models.baselines import BASELINE_SPECS

    if name in BASELINE_SPECS:
        return BASELINE_SPECS[name]
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(sorted(_REGISTRY))}; "
                       f"baselines: {', '.join(sorted(BASELINE_SPECS))}")
    return _REGISTRY[name]


def build_config(name: str, preset: str = "lite", **overrides: Any) -> Any:
    """The config dataclass of ``name`` with ``preset`` and then ``overrides`` applied."""
    spec = model_spec(name)
    if preset not in spec.presets:
        raise KeyError(f"model {name!r} has no preset {preset!r}; valid: {', '.join(spec.presets)}")
    valid = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise TypeError(
            f"{spec.config_cls.__name__} has no field(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(valid))}"
        )
    return spec.config_cls(**{**spec.presets[preset], **{k: _tuplify(v) for k, v in overrides.items()}})


def create_model(name: str, preset: str = "lite", **overrides: Any) -> Any:
    """Build model ``name`` from a preset plus overrides (e.g. ``n_features=7, n_classes=2``)."""
    spec = model_spec(name)
    return spec.cls(build_config(name, preset, **overrides))


def model_from_config(name: str, config: Mapping[str, Any]) -> Any:
    """Rebuild a model from its saved config dict (as stored in a checkpoint)."""
    spec = model_spec(name)
    valid = {f.name for f in dataclasses.fields(spec.config_cls)}
    unknown = sorted(set(config) - valid)
    if unknown:
        raise ValueError(
            f"saved config of model {name!r} has field(s) {unknown} that this version's "
            f"{spec.config_cls.__name__} lacks; it was written by an incompatible colliderlab version"
        )
    kwargs = {k: _tuplify(v) for k, v in config.items()}
    return spec.cls(spec.config_cls(**kwargs))


def _tuplify(v: Any) -> Any:
    """JSON turns tuples into lists; configs hold (nested) tuples."""
    return tuple(_tuplify(x) for x in v) if isinstance(v, list) else v


def count_params(model: Any) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
