"""colliderlab: deep learning for collider physics.

Kept light on purpose: heavy dependencies (pythia8mc, fastjet, torch, xgboost, uproot)
are imported inside the functions that need them.
"""

from colliderlab.jets import JetBatch, ParticleID

__all__ = ["JetBatch", "ParticleID", "__version__"]
__version__ = "0.1.0"
