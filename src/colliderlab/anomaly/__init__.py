"""Anomaly detection for new physics: scores learnt on the Standard Model only, and weakly
supervised resonance searches.

* :mod:`colliderlab.anomaly.event_ae` - a dense autoencoder and a variational autoencoder on
  per-event high-level features (arXiv:1811.10276) (the models only);
  :mod:`colliderlab.anomaly.event_ae_train` - their training, per-event scores, storage and the
  trigger path (ONNX, hls4ml emulation);
* :mod:`colliderlab.anomaly.pvalues` - one-sided p-values from the Standard-Model score
  distribution, thresholds at a Standard-Model acceptance, signal efficiencies;
* :mod:`colliderlab.anomaly.event_search` - the whole event-level workflow (AE/VAE against a
  supervised BDT per signal), writing metrics and plots;
* :mod:`colliderlab.anomaly.plots` - score, p-value and ROC figures;
* :mod:`colliderlab.anomaly.jet_ae` - jet-image and particle-cloud autoencoders trained on QCD
  jets (arXiv:1808.08992, 1808.08979); :mod:`colliderlab.anomaly.jet_ae_train` - their training
  and evaluation, with the score's mass correlation;
* :mod:`colliderlab.anomaly.weak` - CWoLa hunting, ANODE and CATHODE on dijets (arXiv:1805.02664,
  2001.04990, 2109.00546) with the supervised and idealised bounds, k-fold classifiers, peak SIC;
* :mod:`colliderlab.anomaly.dijet_search` - that search from files to tables and figures, over
  amounts of injected signal.

Submodules import torch/xgboost/matplotlib lazily; importing this package is free.
"""
