"""Readers for the public jet datasets, into :class:`colliderlab.jets.JetBatch`.

The formats live in :mod:`colliderlab.data.formats` (one module each, behind a registry); this
module keeps the public names in one place:

* ``"toptag"``: the top-tagging reference dataset (arXiv:1902.09914), pandas HDF5 under key
  ``table`` (``fixed`` or ``table`` layout), read with h5py (never PyTables, which unpickles
  attributes);
* ``"quark-gluon"``: EnergyFlow's Pythia quark/gluon jets (arXiv:1810.05165), ``.npz``;
* ``"jetclass"``: JetClass-style ROOT ntuples (arXiv:2202.03772);
* ``"colliderlab"``: this package's own HDF5 files, delegated to :mod:`colliderlab.data.h5`.

Every read error is a :class:`~colliderlab.data.errors.DataFormatError` naming the file.
"""

from __future__ import annotations

from colliderlab.data.formats import (
    FORMATS,
    JetFormat,
    count_jets,
    detect_format,
    get_format,
    iter_jets,
    read_jets,
)
from colliderlab.data.formats.jetclass import (
    JETCLASS_LABELS,
    count_jetclass,
    iter_jetclass,
    read_jetclass,
)
from colliderlab.data.formats.pdg import pdg_charge, pdg_mass
from colliderlab.data.formats.quark_gluon import (
    QG_LABELS,
    count_quark_gluon,
    iter_quark_gluon,
    read_quark_gluon,
)
from colliderlab.data.formats.toptag import TOPTAG_LABELS, count_toptag, iter_toptag, read_toptag

__all__ = [
    "FORMATS",
    "JetFormat",
    "get_format",
    "detect_format",
    "read_jets",
    "iter_jets",
    "count_jets",
    "read_toptag",
    "iter_toptag",
    "count_toptag",
    "read_quark_gluon",
    "iter_quark_gluon",
    "count_quark_gluon",
    "read_jetclass",
    "iter_jetclass",
    "count_jetclass",
    "pdg_mass",
    "pdg_charge",
    "TOPTAG_LABELS",
    "QG_LABELS",
    "JETCLASS_LABELS",
]
