"""Jet substructure numerics on padded constituent arrays, below the feature layer so that the
generators can use them: numpy kT / Cambridge-Aachen clustering (:mod:`.clustering`), energy
correlators (:mod:`.ecf`), one-pass N-subjettiness axes (:mod:`.nsub`) and the blocks of jets of
similar multiplicity the observables are computed on (:mod:`.blocks`)."""

from colliderlab.physics.substructure.blocks import nsubjettiness

__all__ = ["nsubjettiness"]
