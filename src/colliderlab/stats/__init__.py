"""From scores to physics results: HistFactory workspaces and fits with pyhf, and the closed forms
they are checked against (issue #18).

* :mod:`~colliderlab.stats.closed_form`: Asimov discovery significance and the asymptotic CLs upper
  limits of a counting experiment (arXiv:1007.1727).
* :mod:`~colliderlab.stats.workspace`: signal and background templates (MC statistical errors,
  normalisation and shape systematics) to a HistFactory JSON workspace (pyhf, cabinetry).
* :mod:`~colliderlab.stats.fit`: expected (Asimov) significance, CLs limits with their +-1/2 sigma
  band, and seeded pseudo-data, through pyhf.
"""
