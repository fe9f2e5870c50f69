"""What a trained network learnt: attributions, SHAP values, attention maps and EFN filters.

``colliderlab explain RUN --data F`` (:func:`colliderlab.explain.report.explain_run`) writes, for
any trained run, the arrays (``explain.h5``), figures and a ``summary.json``:

* observables (BDT, DNN): SHAP values (``shap``'s TreeExplainer on the booster, in log-odds;
  GradientExplainer, i.e. expected gradients, on the network's log-probability), a summary plot and
  dependence plots of the top observables (:mod:`colliderlab.explain.tabular`);
* jet images (CNN, ResNet): integrated gradients (arXiv:1703.01365) and saliency maps
  (arXiv:1312.6034) from ``captum``, averaged per class and per jet-pT bin beside the average
  images (:mod:`colliderlab.explain.gradients`);
* particle clouds (PFN, EFN, ParticleNet, ParT, ...): per-particle integrated gradients shown in
  the (eta, phi) plane of single jets and averaged in (Delta R, z) bins, and the physics check
  of a top tagger: the share of attribution within Delta R < 0.2 of the three truth decay quarks
  against the share of pT there (:mod:`colliderlab.explain.particles`);
* ParT: attention maps per layer and head, with the pair-interaction matrix's contribution
  (:mod:`colliderlab.explain.attention`); EFN: its latent filters in the (eta, phi) plane
  (arXiv:1810.05165, :mod:`colliderlab.explain.efn`).

``shap`` and ``captum`` are the ``explain`` extra; they are imported inside the functions.
"""

__all__: list[str] = []
