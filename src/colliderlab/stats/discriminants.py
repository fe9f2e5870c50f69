"""Per-jet discriminant variables that templates are histogrammed in (a registry).

A discriminant is computed from the fields a jet file carries; a file that lacks one is refused
with the discriminants it does support, never filled with zeros.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.jets import JetBatch

__all__ = ["DISCRIMINANTS", "Discriminant", "JetValues", "get_discriminant", "jet_values"]


@dataclass(frozen=True)
class Discriminant:
    """A per-jet variable: its name, unit, the fields it needs and how to compute it ((N,) floats)."""

    name: str
    label: str
    needs: frozenset[str]
    compute: Callable[[JetBatch], np.ndarray]


def _constituent_mass(b: JetBatch) -> np.ndarray:
    total = np.where(b.mask[..., None], b.p4, 0.0).sum(axis=1, dtype=np.float64)  # (N, 4)
    return kin.mass(total)


DISCRIMINANTS: dict[str, Discriminant] = {
    d.name: d
    for d in (
        Discriminant("mass", "jet mass [GeV]", frozenset({"jet_p4"}), lambda b: kin.mass(b.jet_p4)),
        Discriminant("pt", "jet $p_T$ [GeV]", frozenset({"jet_p4"}), lambda b: kin.pt(b.jet_p4)),
        Discriminant("mass_constituents", "mass of the constituents [GeV]", frozenset({"p4", "mask"}),
                     _constituent_mass),
    )
}


def get_discriminant(name: str) -> Discriminant:
    """The registered discriminant ``name``; a ValueError lists the valid ones."""
    try:
        return DISCRIMINANTS[name]
    except KeyError:
        raise ValueError(f"unknown discriminant {name!r}; valid: {', '.join(DISCRIMINANTS)}") from None


@dataclass
class JetValues:
    """A discriminant of every jet of a file, with the labels (indices into ``label_names``)."""

    values: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]


def jet_values(path: str | os.PathLike, name: str, *, stop: int | None = None,
               chunk_size: int = 50_000) -> JetValues:
    """Discriminant ``name`` of the first ``stop`` jets of ``path`` (any jet format), in chunks.

    Raises:
        ValueError: an unknown discriminant, or a file that lacks the fields it needs (the message
            names them and the discriminants this file supports).
    """
    from colliderlab.data.readers import iter_jets

    disc = get_discriminant(name)
    values, labels, names = [], [], ()
    for batch in iter_jets(path, chunk_size=chunk_size):
        missing = sorted(disc.needs - batch.fields)
        if missing:
            ok = [d.name for d in DISCRIMINANTS.values() if d.needs <= batch.fields]
            raise ValueError(f"{path} carries no {', '.join(missing)}, so the discriminant {name!r} cannot be "
                             f"computed; discriminants this file supports: {', '.join(ok) or 'none'}")
        values.append(np.asarray(disc.compute(batch), np.float64))
        labels.append(batch.label)
        names = batch.label_names
        if stop is not None and sum(map(len, values)) >= stop:
            break
    v, y = np.concatenate(values), np.concatenate(labels)
    return JetValues(v[:stop], y[:stop], tuple(names))
