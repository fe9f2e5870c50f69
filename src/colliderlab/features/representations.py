"""Learnable representations of jets: one frozen config dataclass per kind, in a small registry.

A representation turns a :class:`~colliderlab.jets.JetBatch` into a dict of numpy arrays whose
first axis is the jet. The kinds and their arrays (float32 unless stated):

==============  ==============================================================================
kind            arrays
==============  ==============================================================================
observables     ``x`` (J, F)
nsub            ``x`` (J, 3M - 4) multi-body N-subjettiness basis (arXiv:1704.08249)
efp             ``x`` (J, F) energy flow polynomials (arXiv:1712.07124)
image           ``image`` (J, C, H, W)
particles       ``x`` (J, N, F), ``mask`` (J, N) bool, ``coords`` (J, N, 2) raw (Delta eta,
                Delta phi), ``p4`` (J, N, 4) raw (E, px, py, pz)
sequence        as ``particles``, constituents ordered by pT or by the clustering history
tree            ``x`` (J, M, F) node features, ``children`` (J, M, 2) int64 (-1 for leaves and
                padding), ``level`` (J, M) int64 (0 leaves, 1 + max(children) inside, -1
                padding), ``mask`` (J, M) bool, ``root`` (J,) int64 (-1 for a jet without
                constituents); M = 2N - 1
==============  ==============================================================================

Configs whose options depend on the data (``features="auto"`` of ``particles`` and ``sequence``)
also have ``resolve(jets) -> config``, called once on the training file so that evaluation on
another file computes exactly the same features.

Each config class provides ``kind`` (class attribute), ``standardize`` (keys whose last axis is
standardised with statistics fitted on the training split, over real entries only where the
arrays carry a ``mask``), ``compute(jets) -> dict``, ``dims(arrays) -> dict`` (the model-config
fields this representation fixes: ``n_features``, or ``in_channels`` and ``image_size``),
``feature_names() -> tuple[str, ...]`` and ``input_fields() -> frozenset[str]``: the
:class:`~colliderlab.jets.JetBatch` fields (per particle and per jet) the arrays are computed
from, on a resolved config (calorimeter kinds name :class:`~colliderlab.physics.calo.CaloShowers`
fields). A run records them, and ``predict``/``evaluate``/``export`` refuse a file that does not
carry them (:mod:`colliderlab.data.contract`). Registration refuses a class without it.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from colliderlab.configs import from_dict

__all__ = [
    "REPRESENTATION_MODULES",
    "register_representation",
    "representation_kinds",
    "representation_config",
    "representation_from_dict",
    "representation_to_dict",
    "check_finite",
]

_KINDS: dict[str, type] = {}

# Modules whose import registers the representation kinds.
REPRESENTATION_MODULES = (
    "colliderlab.features.highlevel",
    "colliderlab.features.efp",
    "colliderlab.features.images",
    "colliderlab.features.particles",
    "colliderlab.features.trees",
    "colliderlab.features.calo",
)


def register_representation(cls: type) -> type:
    """Class decorator registering a representation config under ``cls.kind``; the class must
    declare the fields it reads (``input_fields``)."""
    if not callable(getattr(cls, "input_fields", None)):
        raise TypeError(f"representation {cls.kind!r} must declare the fields it reads: define input_fields()")
    if cls.kind in _KINDS:
        raise ValueError(f"representation {cls.kind!r} is already registered")
    _KINDS[cls.kind] = cls
    return cls


def _load() -> None:
    for mod in REPRESENTATION_MODULES:
        importlib.import_module(mod)


def representation_kinds() -> list[str]:
    """All registered representation kinds."""
    _load()
    return sorted(_KINDS)


def representation_config(kind: str, **options: Any) -> Any:
    """Build the config of ``kind``; unknown kinds or options are errors naming the valid ones."""
    _load()
    if kind not in _KINDS:
        raise KeyError(f"unknown representation {kind!r}; valid: {', '.join(sorted(_KINDS))}")
    return from_dict(_KINDS[kind], options, "representation")  # unknown options list the valid ones


def representation_to_dict(config: Any) -> dict[str, Any]:
    """``{"kind": ..., **options}`` (JSON/YAML friendly)."""
    return {"kind": config.kind, **dataclasses.asdict(config)}


def representation_from_dict(d: Mapping[str, Any]) -> Any:
    """Inverse of :func:`representation_to_dict`."""
    d = dict(d)
    if "kind" not in d:
        raise KeyError(f"representation needs a 'kind'; valid: {', '.join(representation_kinds())}")
    return representation_config(d.pop("kind"), **d)


def check_finite(arrays: Mapping[str, np.ndarray], what: str = "representation") -> None:
    """Raise ``ValueError`` naming the first jet and array with a NaN or infinity."""
    for key, arr in arrays.items():
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = np.argwhere(bad)[0]
            raise ValueError(
                f"{what} array {key!r} has {int(bad.sum())} non-finite values; first at jet "
                f"{int(idx[0])} (index {tuple(int(i) for i in idx)})"
            )
