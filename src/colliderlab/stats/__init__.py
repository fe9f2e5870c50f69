"""From scores to physics results: HistFactory workspaces and fits with pyhf, and the closed forms
they are checked against (issue #18).

* :mod:`~colliderlab.stats.closed_form`: Asimov discovery significance and the asymptotic CLs upper
  limits of a counting experiment (arXiv:1007.1727).
* :mod:`~colliderlab.stats.workspace`: signal and background templates (MC statistical errors,
  normalisation and shape systematics) to a HistFactory JSON workspace (pyhf, cabinetry).
* :mod:`~colliderlab.stats.fit`: expected (Asimov) significance, CLs limits with their +-1/2 sigma
  band, CLs scans, and seeded pseudo-data, through pyhf.
* :mod:`~colliderlab.stats.working_points`: the score cut maximising Z_A (optionally with the MC error of
  the background), chosen on validation, reported on test.
* :mod:`~colliderlab.stats.discriminants`: the template variables (jet mass, pT, ...), refusing files
  without their fields.
* :mod:`~colliderlab.stats.analysis`: scores + discriminant + cross sections -> working point, templates
  with staterror / normsys / histosys, fits with and without systematics, pseudo-data.
* :mod:`~colliderlab.stats.from_runs` (a trained run on its own split and on generator-variation
  samples), :mod:`~colliderlab.stats.dijet_analysis` (the W' -> XY search in m_JJ),
  :mod:`~colliderlab.stats.plots` (CLs band, significance vs cut, templates).
"""
