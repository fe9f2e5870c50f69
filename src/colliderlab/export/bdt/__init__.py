"""Boosted decision trees to FPGAs with conifer, emulated bit-accurately in C++.

conifer (Summers et al., "Fast inference of Boosted Decision Trees in FPGAs for particle
physics", JINST 15 (2020) P05026, arXiv:2002.02534) turns a trained tree ensemble into HLS or
C++ firmware in which every split is one fixed-point comparator evaluated in parallel and the
leaf values of all trees are summed by an adder tree. Its ``cpp`` backend compiles the same
fixed-point arithmetic (Xilinx ``ap_fixed`` types) into a Python extension, so the scores the
firmware would produce can be computed here, jet by jet, without vendor tools::

    handle = convert_bdt(bdt, ConiferConfig(precision="ap_fixed<18,8>", output_dir="prj"))
    scores = emulate(handle, x)            # (N,) binary margin or (N, C) per-class margins
    report = bdt_parity(bdt, handle, x, y) # conifer vs xgboost: max |diff|, agreement, AUCs
    sizes = bdt_resources(handle)          # trees, nodes, depth, comparators, conifer estimates

Shapes: ``x`` is (N, F) in the space the BDT was trained on (for runs of ``colliderlab
train``: standardised observables). Binary classifiers have one ensemble and one score per jet,
xgboost's margin ``log(p / (1 - p))``; C-class classifiers have one ensemble (and one score)
per class, xgboost's softmax logits.

What is compared: conifer's compiled ``decision_function`` returns ``init_predict + sum of
leaves`` in the score precision. That is directly xgboost's raw margin
(``predict(x, output_margin=True)``), which already contains the intercept (``base_score``).

How the converter is used, and two corrections (both measured, and both switchable):

* The ensemble is built by conifer's xgboost converter
  (``conifer.converters.get_converter("xgboost").convert``, the first half of
  ``conifer.converters.convert_from_xgboost``) and turned into a backend model with
  ``conifer.model.make_model`` (its second half).
* ``base_score`` (``ConiferConfig.measured_base_score``): conifer takes ``logit`` of the
  ``base_score`` string in the booster's config. With xgboost 3 that string is rounded to three
  digits for binary models (``[4.76E-1]``; 7e-7 off in the margin) and, for ``multi:softprob``,
  already holds margins (``[-0.199,-0.199,0.398]``), whose logit is NaN. The intercept used here
  is instead measured from xgboost itself: the margin of one jet minus its margin with
  ``base_margin = 0`` (exact to float32 rounding, ~1e-7). Both values are recorded in
  ``handle.base_score``.
* Split thresholds (``ConiferConfig.exact_splits``): the converter reads thresholds and leaf
  values from ``Booster.trees_to_dataframe``, a text dump with ~7 significant digits, while
  xgboost compares ``float32(x) < float32(threshold)``. Histogram cuts sit on data values, so
  jets exactly on a cut go the other way in a few per cent of the trees (this is conifer's
  "disagreements for xgboost >= 2" warning: 2.5% of jets off by up to 1.5 in the margin on a
  50-tree top tagger). The thresholds and leaf values are replaced by the exact float32 values
  from the booster's JSON (the same nodes, checked node by node).

Early stopping: ``XGBClassifier.predict`` uses the trees up to ``best_iteration``; the same
trees are converted (``handle.n_rounds``).

Fixed point: conifer casts inputs, thresholds and scores to the given ``ap_fixed<W, I>`` types
with the default quantisation (truncation) and overflow (wrap-around) modes. Inputs outside
``[-2^(I-1), 2^(I-1))`` wrap and are misrouted; :func:`bdt_parity` reports the fraction of
such inputs, and ``ap_fixed<18,8,AP_RND,AP_SAT>`` selects rounding and saturation.

Tool chain (no vendor tools needed for emulation): ``g++``, pybind11, the nlohmann JSON header
(``apt-get install nlohmann-json3-dev``; found through ``JSON_ROOT``, default
``/usr/include``) and the Xilinx ``ap_types`` headers (``XILINX_AP_INCLUDE``; by default those
bundled with hls4ml). :func:`check_toolchain` sets the variables when they are unset and says
what to install when something is missing. The C++ bridge of the ``cpp`` backend does not
depend on the model (the trees are read from JSON at run time), so each build is cached per
precision (``ConiferConfig.cache_builds``; ``$COLLIDERLAB_CONIFER_CACHE`` or
``~/.cache/colliderlab/conifer``) and a second conversion at the same precision skips the
~15 s g++ build.
"""

from __future__ import annotations

from colliderlab.export.bdt.config import (
    BACKENDS,
    ConiferConfig,
    ToolchainError,
)
from colliderlab.export.bdt.conversion import (
    convert_bdt,
)
from colliderlab.export.bdt.emulation import (
    ConiferBDT,
    bdt_parity,
    bdt_resources,
    emulate,
)
from colliderlab.export.bdt.runs import (
    export_bdt_run,
)
from colliderlab.export.bdt.toolchain import (
    check_toolchain,
    fixed_point_range,
)

__all__ = [
    "BACKENDS",
    "ToolchainError",
    "ConiferConfig",
    "ConiferBDT",
    "check_toolchain",
    "fixed_point_range",
    "convert_bdt",
    "emulate",
    "bdt_parity",
    "bdt_resources",
    "export_bdt_run",
]
