"""Weakly supervised resonance searches on dijets: CWoLa hunting, ANODE and CATHODE, with the
fully supervised classifier and the idealised anomaly detector as their bounds.

The setting is the LHC Olympics 2020 R&D one (arXiv:2101.08320; :mod:`colliderlab.physics.dijet`):
events with features ``x`` = (m_J1, Delta m_J, tau21_J1, tau21_J2) and the dijet mass m_JJ; a
signal region (SR) window in m_JJ, sidebands (SB) outside it. A small signal is injected into the
background ("data"); each method builds a background template for the SR and trains a classifier
"SR data vs template", whose output is the anomaly score:

* **CWoLa hunting** (arXiv:1805.02664): template = data in the neighbouring sidebands;
* **ANODE** (arXiv:2001.04990): no classifier; the score is log p_data(x | m) - log p_bkg(x | m),
  a conditional flow trained on SR data over one trained on SB data, interpolated into the SR;
* **CATHODE** (arXiv:2109.00546): template = samples of the SB flow at SR m_JJ values drawn from
  a kernel density estimate of the SR data, ``oversample`` times the SR data;
* **idealised** anomaly detector: template = an independent background sample in the SR (the
  perfect background model, the upper bound of the weakly supervised ones);
* **supervised**: labelled signal against labelled background in the SR.

Classifiers are trained k-fold (``folds`` >= 5): each fold's model is trained on the other folds;
the test set is scored by the mean of the k models. They are histogram gradient-boosted trees
(scikit-learn), which match neural classifiers on these four features at a fraction of the CPU
cost (arXiv:2309.13111, "Back to the roots"); an ensemble of ``ensemble`` seeds per fold averages
out their variance. The density model is :class:`colliderlab.generative.flow.ConditionalFlow`
(issue #5) on features made unbounded by a logit of their min-max scaled values and then
standardised (the CATHODE preprocessing).

Evaluation follows the papers: an independent test set of SR background and SR signal events not
injected anywhere; the significance improvement SIC = eps_S / sqrt(eps_B) is only computed where
at least ``min_background`` (25) background test events pass; figures are medians over runs.

Units: GeV in, TeV inside (m_J1, Delta m_J and m_JJ are divided by 1000).

Layout: settings in :mod:`.config`, samples and splits in :mod:`.samples`, the flows in
:mod:`.density`, the methods and the sweep in :mod:`.methods`.
"""

from colliderlab.anomaly.weak.config import (
    METHODS,
    ClassifierConfig,
    FlowTrainConfig,
    SearchConfig,
    config_dict,
)
from colliderlab.anomaly.weak.density import sample_template, train_flow
from colliderlab.anomaly.weak.methods import kfold_classifier, peak_sic, run_methods, sweep
from colliderlab.anomaly.weak.samples import (
    DijetSample,
    Preprocessor,
    SearchSplit,
    make_split,
    search_arrays,
)

__all__ = [
    "METHODS",
    "FlowTrainConfig",
    "ClassifierConfig",
    "SearchConfig",
    "DijetSample",
    "SearchSplit",
    "Preprocessor",
    "search_arrays",
    "make_split",
    "train_flow",
    "sample_template",
    "kfold_classifier",
    "run_methods",
    "peak_sic",
    "sweep",
    "config_dict",
]
