"""The jet file formats colliderlab reads, one module each, behind one registry.

========================  ==================================================================
name                      module
========================  ==================================================================
``"colliderlab-sharded"`` :mod:`~colliderlab.data.shards` (master file over shards, checked on open)
``"colliderlab"``         :mod:`~colliderlab.data.formats.jets_h5` (our HDF5, via ``data.h5``)
``"toptag"``              :mod:`~colliderlab.data.formats.toptag` (pandas HDF5, read by h5py)
``"quark-gluon"``         :mod:`~colliderlab.data.formats.quark_gluon` (EnergyFlow ``.npz``)
``"jetclass"``            :mod:`~colliderlab.data.formats.jetclass` (ROOT, uproot)
========================  ==================================================================

Every reader returns constituents in GeV, ordered by decreasing pT (re-sorted when the file is
not), padded or truncated to ``n_particles`` slots (truncation keeps the hardest particles).
``jet_p4`` is the sum of *all* constituents in the file (before truncation) except for
JetClass, whose ``jet_pt/eta/phi/energy`` branches are used. Files are read in row ranges so
that a chunk is the most that is ever in memory. A damaged file raises
:class:`~colliderlab.data.errors.DataFormatError` naming it, never a library's own exception.
"""

from __future__ import annotations

from colliderlab.data.formats import jetclass, jets_h5, quark_gluon, toptag
from colliderlab.data.formats.registry import (
    FORMATS,
    JetFormat,
    count_jets,
    detect_format,
    get_format,
    iter_jets,
    read_jets,
    register,
)

__all__ = [
    "FORMATS",
    "JetFormat",
    "register",
    "get_format",
    "detect_format",
    "read_jets",
    "iter_jets",
    "count_jets",
]

# detection tries them in this order: colliderlab's files before any other HDF5 layout
register(jets_h5.SHARDED_FORMAT)
for _module in (jets_h5, toptag, quark_gluon, jetclass):
    register(_module.FORMAT)
del _module
