"""Generative fast simulation and its evaluation.

* :mod:`colliderlab.generative.fidelity` - shower observables, W1 and separation power, FPD/KPD,
  and the fixed evaluation classifier (CaloChallenge-style, arXiv:2211.10295).
"""
