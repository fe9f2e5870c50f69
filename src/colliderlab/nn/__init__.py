"""Reusable torch layers for particle-cloud models: MLPs and masked pooling (:mod:`.layers`), kNN
graphs and EdgeConv (:mod:`.knn`, arXiv:1801.07829, 1902.08570), pairwise Lorentz features
(:mod:`.pairs`, arXiv:2202.03772) and particle/class attention blocks (:mod:`.attention`).

Layouts are channels-last: particles ``(B, N, C)``, neighbours ``(B, N, k, C)``, pairs
``(B, N, N, C)``; ``mask`` is ``(B, N)`` bool with True for real particles.
"""
