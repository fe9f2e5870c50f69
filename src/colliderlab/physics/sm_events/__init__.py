"""Event-level samples for anomaly detection: a Standard-Model cocktail behind a single-lepton trigger.

The setting of arXiv:1811.10276 (Cerri et al., "Variational autoencoders for new physics mining
at the Large Hadron Collider") and of the ADC2021 dataset (arXiv:2107.02157, Govorkova et al.,
Sci. Data 9 (2022) 118): 13 TeV proton collisions, events kept by a trigger asking for one
isolated electron or muon above 23 GeV, described by about twenty high-level features.

Processes (Pythia 8, MPI on, particles with c*tau0 > 10 mm left undecayed):

* ``w_lnu``: ``WeakSingleBoson:ffbar2W``, W -> e nu, mu nu, tau nu.
* ``z_ll``: ``WeakSingleBoson:ffbar2gmZ`` (full gamma*/Z interference, m_hat > 40 GeV),
  Z/gamma* -> e e, mu mu, tau tau.
* ``ttbar``: ``Top:gg2ttbar`` + ``Top:qqbar2ttbar``, inclusive decays.
* ``qcd``: ``HardQCD:all`` with ``PhaseSpace:pTHatMin`` (30 GeV), passed through a
  *generator-level lepton filter* before the detector: a final-state e or mu with pT above
  ``filter_pt`` (20 GeV) and |eta| < 2.5 in the event record. Its weight is
  sigma x filter efficiency. (The filter can be applied to other processes too, see
  :class:`EventConfig`; it is then part of their weight in the same way.)

Benchmark signals. The masses are those of ADC2021 (arXiv:2107.02157, section "BSM
processes"), which took its four signals from arXiv:1811.10276: a neutral scalar A (50 GeV)
-> 4 leptons, a leptoquark (80 GeV) -> b tau, a neutral scalar h0 (60 GeV) -> tau tau and a
charged scalar h+- (60 GeV) -> tau nu. Those samples were made with dedicated models; here
each is made with a standard Pythia process, as written out below (kinematics differ from the
papers' samples in production mode and spin correlations):

* ``a_4l``: the SM Higgs in gluon fusion (``HiggsSM:gg2H``) with ``25:m0 = 50`` and its
  decay forced to Z Z (off shell: Pythia samples both Z masses from their Breit-Wigner
  below threshold), each Z forced to e e or mu mu.
* ``lq_btau``: Pythia's leptoquark (``LeptoQuark:all``: pair production g g, q qbar -> LQ LQbar
  plus single production q g -> LQ l) with ``42:m0 = 80``, ``LeptoQuark:kCoup = 0.01`` and
  its (only) decay channel changed to b tau+ (``42:0:products = 5 -15``), the charge set to
  the matching +2/3 (``42:chargeType = 2``). Pythia takes the production couplings from that
  channel, so single production is b g -> LQ tau.
* ``h0_tautau``: ``HiggsSM:gg2H`` with ``25:m0 = 60``, decay forced to tau+ tau-.
* ``hpm_taunu``: pair production of the 2HDM charged Higgs through gamma*/Z
  (``HiggsBSM:ffbar2H+H-``, ``Higgs:useBSM = on``) with ``37:m0 = 60``, both forced to tau nu.

Reconstruction and the high-level features: :mod:`.reconstruction`; names, features and
settings: :mod:`.config`; Pythia settings, the generator-level filter and one chunk of events:
:mod:`.generation`.

Everything after Pythia is vectorised over the events of a chunk (numpy/awkward, FastJet on
the whole chunk at once); one chunk depends only on (process, config, chunk index).
"""

from colliderlab.physics.sm_events.config import (
    FEATURE_NAMES,
    JET_FIELDS,
    LEPTON_FIELDS,
    PROCESSES,
    SIGNAL_PROCESSES,
    SM_PROCESSES,
    EventConfig,
    check_process,
)
from colliderlab.physics.sm_events.generation import _fresh_pythia as _fresh_pythia  # tests use it
from colliderlab.physics.sm_events.generation import event_chunk, lepton_filter, pythia_settings
from colliderlab.physics.sm_events.reconstruction import reconstruct_events

__all__ = [
    "SM_PROCESSES",
    "SIGNAL_PROCESSES",
    "PROCESSES",
    "FEATURE_NAMES",
    "LEPTON_FIELDS",
    "JET_FIELDS",
    "EventConfig",
    "check_process",
    "pythia_settings",
    "lepton_filter",
    "reconstruct_events",
    "event_chunk",
]
