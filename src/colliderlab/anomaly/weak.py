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
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

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

METHODS = ("supervised", "idealised", "cathode", "cwola", "anode")


@dataclass(frozen=True)
class FlowTrainConfig:
    """The conditional density p(x | m_JJ) and its training (CATHODE used a 15-block MAF with
    batch normalisation; a 4-block MAF is enough for 4 features here and trains on 2 CPU cores).
    """

    kind: str = "maf"
    transforms: int = 4
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-6
    validation: float = 0.2
    patience: int = 8


@dataclass(frozen=True)
class ClassifierConfig:
    """Histogram gradient-boosted trees (scikit-learn), k-fold and seed-ensembled."""

    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    ensemble: int = 1
    validation: float = 0.2  # early-stopping hold-out inside each training fold
    threads: int | None = 1  # OpenMP threads per fit (None: all); one avoids oversubscribed spinning


@dataclass(frozen=True)
class SearchConfig:
    """One search. ``sr`` and ``cwola_width`` in GeV."""

    sr: tuple[float, float] = (3300.0, 3700.0)
    cwola_width: float = 200.0  # CWoLa hunting: sidebands [lo - w, lo] and [hi, hi + w]
    folds: int = 5
    oversample: int = 4  # CATHODE: template events per SR data event
    min_background: int = 25  # SIC only where this many background test events pass
    flow: FlowTrainConfig = field(default_factory=FlowTrainConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)

    def __post_init__(self) -> None:
        if not self.sr[0] < self.sr[1]:
            raise ValueError(f"SearchConfig.sr must be (low, high) with low < high, got {self.sr}")
        if self.folds < 2:
            raise ValueError(f"SearchConfig.folds must be at least 2, got {self.folds}")
        if self.oversample < 1:
            raise ValueError(f"SearchConfig.oversample must be at least 1, got {self.oversample}")


@dataclass
class DijetSample:
    """Events of one kind: ``x`` (N, 4) search features (TeV for masses), ``mjj`` (N,) TeV."""

    x: np.ndarray
    mjj: np.ndarray

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, np.float64)
        self.mjj = np.asarray(self.mjj, np.float64).reshape(-1)
        if self.x.ndim != 2 or self.x.shape[1] != 4:
            raise ValueError(f"DijetSample.x must have shape (N, 4), got {self.x.shape}")
        if len(self.mjj) != len(self.x):
            raise ValueError(f"DijetSample.mjj has {len(self.mjj)} entries but x has {len(self.x)} rows")
        bad = ~np.isfinite(self.x).all(axis=1) | ~np.isfinite(self.mjj)
        if bad.any():
            raise ValueError(f"DijetSample has {bad.sum()} non-finite events, first at row {int(np.argmax(bad))}")

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: np.ndarray) -> DijetSample:
        return DijetSample(self.x[index], self.mjj[index])

    @staticmethod
    def concat(*samples: DijetSample) -> DijetSample:
        return DijetSample(np.concatenate([s.x for s in samples]), np.concatenate([s.mjj for s in samples]))


def search_arrays(features: Mapping[str, np.ndarray]) -> DijetSample:
    """The search inputs from :func:`colliderlab.data.dijet_io.read_dijets` (or
    :func:`colliderlab.physics.dijet.dijet_features`) output: (m_J1, Delta m_J) in TeV, both tau21."""
    x = np.stack([np.asarray(features["mj1"]) / 1e3, np.asarray(features["delta_mj"]) / 1e3,
                  np.asarray(features["tau21_j1"]), np.asarray(features["tau21_j2"])], axis=1)  # (N, 4)
    return DijetSample(x, np.asarray(features["mjj"]) / 1e3)


@dataclass
class SearchSplit:
    """The samples of one search run (all masses in TeV).

    ``data``: background plus the injected signal, everywhere in m_JJ, with truth ``data_label``
    (never used by the weak methods); ``sim_bkg``: independent SR background (idealised template);
    ``sig_train``: labelled SR signal for the supervised bound (not injected, not tested);
    ``test`` with ``test_label``: independent SR background and SR signal.
    """

    data: DijetSample
    data_label: np.ndarray
    sim_bkg: DijetSample
    sig_train: DijetSample
    test: DijetSample
    test_label: np.ndarray
    sr: tuple[float, float]

    def in_sr(self, s: DijetSample) -> np.ndarray:
        return (s.mjj >= self.sr[0]) & (s.mjj < self.sr[1])

    @property
    def n_signal_sr(self) -> int:
        return int(self.data_label[self.in_sr(self.data)].sum())

    @property
    def n_background_sr(self) -> int:
        return int((~self.data_label[self.in_sr(self.data)].astype(bool)).sum())


def make_split(background: DijetSample, signal: DijetSample, independent: DijetSample, n_signal: int,
               config: SearchConfig, rng: np.random.Generator, *, n_test_signal: int | None = None) -> SearchSplit:
    """Inject ``n_signal`` signal events (drawn from all m_JJ) into ``background``; split the rest.

    The SR signal events not injected are split in two: half (or ``n_test_signal``) for the test
    set, the rest for the supervised classifier. ``independent`` SR events are split in two halves:
    the idealised template and the test background.
    """
    lo, hi = config.sr[0] / 1e3, config.sr[1] / 1e3
    if n_signal < 0 or n_signal > len(signal):
        raise ValueError(f"n_signal = {n_signal} must be in [0, {len(signal)}] (the signal sample's size)")
    order = rng.permutation(len(signal))
    injected, rest = order[:n_signal], order[n_signal:]
    rest = rest[(signal.mjj[rest] >= lo) & (signal.mjj[rest] < hi)]
    n_test = len(rest) // 2 if n_test_signal is None else min(n_test_signal, len(rest))
    if n_test < 10:
        raise ValueError(f"only {len(rest)} signal-region signal events remain after injecting {n_signal}; "
                         "generate more signal")
    ind_sr = np.flatnonzero((independent.mjj >= lo) & (independent.mjj < hi))
    ind_sr = rng.permutation(ind_sr)
    half = len(ind_sr) // 2
    if half < config.min_background:
        raise ValueError(f"the independent background has {len(ind_sr)} signal-region events; need at least "
                         f"{2 * config.min_background}")
    data = DijetSample.concat(background, signal.take(injected))
    label = np.r_[np.zeros(len(background), np.int64), np.ones(n_signal, np.int64)]
    test = DijetSample.concat(independent.take(ind_sr[half:]), signal.take(rest[:n_test]))
    test_label = np.r_[np.zeros(len(ind_sr) - half, np.int64), np.ones(n_test, np.int64)]
    return SearchSplit(data, label, independent.take(ind_sr[:half]), signal.take(rest[n_test:]), test, test_label,
                       (lo, hi))


class Preprocessor:
    """x -> logit of min-max scaled x -> standardised (CATHODE's preprocessing), and back.

    Fitted on the data; values outside the fitted range are clipped just inside it.
    """

    EPS = 1e-4

    def __init__(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        span = x.max(axis=0) - x.min(axis=0)
        self.lo = x.min(axis=0) - 0.01 * span  # (D,)
        self.hi = x.max(axis=0) + 0.01 * span
        z = self._logit(x)
        self.mean, self.std = z.mean(axis=0), z.std(axis=0) + 1e-12

    def _logit(self, x: np.ndarray) -> np.ndarray:
        u = np.clip((x - self.lo) / (self.hi - self.lo), self.EPS, 1 - self.EPS)
        return np.log(u) - np.log1p(-u)

    def forward(self, x: np.ndarray) -> np.ndarray:  # (N, D) -> (N, D)
        return (self._logit(np.asarray(x, np.float64)) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:  # (N, D) -> (N, D)
        u = 1.0 / (1.0 + np.exp(-(np.asarray(z, np.float64) * self.std + self.mean)))
        return self.lo + u * (self.hi - self.lo)


def _standardise_m(m: np.ndarray, ref: np.ndarray) -> np.ndarray:  # (N,) -> (N, 1)
    return ((m - ref.mean()) / (ref.std() + 1e-12))[:, None]


def train_flow(x: np.ndarray, m: np.ndarray, config: FlowTrainConfig, *, seed: int = 0, progress: bool = False):
    """Fit p(z | m) by maximum likelihood; ``x`` (N, D) already preprocessed, ``m`` (N, 1).

    Holds out ``config.validation`` of the events and keeps the state with the best validation
    negative log-likelihood (early stopping after ``patience`` epochs without improvement).

    Returns ``(flow, history)``: the :class:`~colliderlab.generative.flow.ConditionalFlow` in eval
    mode and a list of per-epoch ``{"train_nll", "val_nll"}``.
    """
    import torch

    from colliderlab.generative.flow import ConditionalFlow

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_t = torch.as_tensor(x, dtype=torch.float32)
    m_t = torch.as_tensor(m, dtype=torch.float32)
    order = rng.permutation(len(x_t))
    n_val = max(1, int(config.validation * len(order)))
    val, tr = order[:n_val], order[n_val:]
    flow = ConditionalFlow(x_t.shape[1], m_t.shape[1], kind=config.kind, transforms=config.transforms,
                           hidden=config.hidden)
    opt = torch.optim.AdamW(flow.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * max(1, int(np.ceil(len(tr) / config.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    best, best_state, stale, history = np.inf, None, 0, []
    epochs = range(config.epochs)
    if progress:
        from colliderlab.progress import progress as progress_bar

        epochs = progress_bar(epochs, desc="flow", unit="epoch", leave=False)
    for _ in epochs:
        flow.train()
        perm = torch.as_tensor(rng.permutation(tr))
        total = 0.0
        for i in range(0, len(perm), config.batch_size):
            b = perm[i:i + config.batch_size]
            loss = -flow.log_prob(x_t[b], m_t[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        flow.eval()
        with torch.no_grad():
            v = float(-flow.log_prob(x_t[val], m_t[val]).mean())
        history.append({"train_nll": total / len(tr), "val_nll": v})
        if v < best - 1e-4:
            best, best_state, stale = v, copy.deepcopy(flow.state_dict()), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        flow.load_state_dict(best_state)
    flow.eval()
    return flow, history


def _flow_log_prob(flow, z: np.ndarray, m: np.ndarray, batch: int = 65536) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch):
            out.append(flow.log_prob(torch.as_tensor(z[i:i + batch], dtype=torch.float32),
                                     torch.as_tensor(m[i:i + batch], dtype=torch.float32)).numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def sample_template(flow, prep: Preprocessor, m_ref: np.ndarray, mjj_sr: np.ndarray, n: int,
                    rng: np.random.Generator) -> DijetSample:
    """CATHODE's background template: m_JJ from a Gaussian kernel density estimate of the SR data
    masses ``mjj_sr`` (TeV), x from the flow at those masses, back through the preprocessing.

    ``m_ref`` is the m_JJ sample whose mean and width standardised the flow's conditioning.
    Samples that land on the preprocessing's clipping boundary (outside the data's range) are
    redrawn."""
    import torch
    from scipy.stats import gaussian_kde

    kde = gaussian_kde(mjj_sr, bw_method="scott")
    lo, hi = mjj_sr.min(), mjj_sr.max()
    xs, ms, have = [], [], 0
    for _ in range(20):
        m = kde.resample(int(1.3 * (n - have)) + 16, seed=rng).reshape(-1)
        m = m[(m >= lo) & (m <= hi)]
        torch.manual_seed(int(rng.integers(2**31)))
        z = flow.sample(torch.as_tensor(_standardise_m(m, m_ref), dtype=torch.float32)).numpy()
        ok = np.isfinite(z).all(axis=1) & (np.abs(z * prep.std + prep.mean) < 9.0).all(axis=1)
        xs.append(prep.inverse(z[ok]))
        ms.append(m[ok])
        have += int(ok.sum())
        if have >= n:
            break
    return DijetSample(np.concatenate(xs)[:n], np.concatenate(ms)[:n])


def _classifier(config: ClassifierConfig, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=config.max_iter, learning_rate=config.learning_rate, max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization, early_stopping=True, validation_fraction=config.validation,
        n_iter_no_change=10, class_weight="balanced", random_state=seed)


def kfold_classifier(x_one: np.ndarray, x_zero: np.ndarray, x_test: np.ndarray, config: ClassifierConfig,
                     folds: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train "class 1 vs class 0" k-fold; both classes balanced by weight.

    Args:
        x_one: (N1, D) e.g. SR data. x_zero: (N0, D) e.g. the template. x_test: (T, D).

    Returns:
        ``(oof, test)``: (N1,) out-of-fold scores of ``x_one`` (each from the model that did not
        see it) and (T,) the test scores averaged over the k models (and ``ensemble`` seeds).
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    f1 = rng.permutation(len(x_one)) % folds
    f0 = rng.permutation(len(x_zero)) % folds
    oof = np.zeros(len(x_one))
    test = np.zeros(len(x_test))
    for k in range(folds):
        x = np.concatenate([x_one[f1 != k], x_zero[f0 != k]])
        y = np.r_[np.ones((f1 != k).sum()), np.zeros((f0 != k).sum())]
        for e in range(config.ensemble):
            with threadpool_limits(limits=config.threads, user_api="openmp"):
                clf = _classifier(config, seed * 1000 + k * 10 + e).fit(x, y)
                oof[f1 == k] += clf.predict_proba(x_one[f1 == k])[:, 1] / config.ensemble
                test += clf.predict_proba(x_test)[:, 1] / (folds * config.ensemble)
    return oof, test


def _inputs(s: DijetSample) -> np.ndarray:
    """Classifier inputs: the four features only (m_JJ would let the classifier find the SR)."""
    return s.x


def run_methods(split: SearchSplit, config: SearchConfig, methods: Sequence[str] = METHODS, *, seed: int = 0,
                progress: bool = False, flows: dict | None = None) -> dict[str, dict]:
    """Run each method on one split; returns ``{method: {"test_score", "peak_sic", "auc", "seconds"}}``.

    ``flows``, when given, caches the trained density models across calls (key: "sb", "sr").
    """
    from colliderlab.metrics import auc

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; valid: {', '.join(METHODS)}")
    rng = np.random.default_rng(seed)
    data, sr = split.data, split.in_sr(split.data)
    data_sr = data.take(sr)
    prep = Preprocessor(data.x)
    sb_mjj = data.mjj[~sr]
    flows = {} if flows is None else flows
    results: dict[str, dict] = {}

    def need_sb_flow():
        if "sb" not in flows:
            z = prep.forward(data.x[~sr])
            flows["sb"] = train_flow(z, _standardise_m(sb_mjj, sb_mjj), config.flow, seed=seed, progress=progress)
        return flows["sb"][0]

    def classify(template: DijetSample, one: DijetSample | None = None) -> np.ndarray:
        one = data_sr if one is None else one
        _, test = kfold_classifier(_inputs(one), _inputs(template), _inputs(split.test), config.classifier,
                                   config.folds, seed=seed)
        return test

    runners: dict[str, Callable[[], np.ndarray]] = {
        "supervised": lambda: classify(data_sr.take(~split.data_label[sr].astype(bool)), split.sig_train),
        "idealised": lambda: classify(split.sim_bkg),
        "cwola": lambda: classify(data.take((data.mjj >= split.sr[0] - config.cwola_width / 1e3) & ~sr
                                             & (data.mjj < split.sr[1] + config.cwola_width / 1e3))),
        "cathode": lambda: classify(sample_template(need_sb_flow(), prep, sb_mjj, data_sr.mjj,
                                                    config.oversample * len(data_sr), rng)),
        "anode": lambda: _anode(split, prep, need_sb_flow(), sb_mjj, data_sr, config, seed, progress, flows),
    }
    for name in methods:
        t0 = time.perf_counter()
        score = runners[name]()
        results[name] = {"test_score": score, "peak_sic": peak_sic(score, split.test_label, config.min_background),
                         "auc": auc(score, split.test_label), "seconds": time.perf_counter() - t0}
    return results


def _anode(split: SearchSplit, prep: Preprocessor, sb_flow, sb_mjj: np.ndarray, data_sr: DijetSample,
           config: SearchConfig, seed: int, progress: bool, flows: dict) -> np.ndarray:
    """ANODE's likelihood ratio log p_data(x | m) - log p_bkg(x | m) on the test set."""
    if "sr" not in flows:
        flows["sr"] = train_flow(prep.forward(data_sr.x), _standardise_m(data_sr.mjj, data_sr.mjj), config.flow,
                                 seed=seed + 1, progress=progress)
    sr_flow = flows["sr"][0]
    z = prep.forward(split.test.x)
    score = (_flow_log_prob(sr_flow, z, _standardise_m(split.test.mjj, data_sr.mjj))
             - _flow_log_prob(sb_flow, z, _standardise_m(split.test.mjj, sb_mjj)))
    return np.nan_to_num(score, nan=-np.inf, neginf=-1e9, posinf=1e9)


def peak_sic(score: np.ndarray, label: np.ndarray, min_background: int = 25) -> float:
    """max eps_S / sqrt(eps_B) over thresholds that keep at least ``min_background`` background
    test events (the statistics caveat of arXiv:2109.00546)."""
    from colliderlab.metrics import sic_curve

    _, sic = sic_curve(score, label, min_background=min_background)
    return float(sic.max()) if len(sic) else float("nan")


def sweep(background: DijetSample, signal: DijetSample, independent: DijetSample, n_signals: Sequence[int],
          config: SearchConfig, *, runs: int = 5, methods: Sequence[str] = METHODS, seed: int = 0,
          retrain_flows: bool = True, log: Callable[[str], None] | None = None,
          on_run: Callable[[int, int, SearchSplit, dict], None] | None = None) -> list[dict]:
    """Peak SIC per method against the injected signal, ``runs`` repetitions per point.

    Each run redraws the injected signal events and the test/template splits and retrains every
    classifier (new seeds); with ``retrain_flows`` False the flows are trained once per signal
    amount and reused by its runs (they see the same data up to the injected events' draw).

    Returns one row per (n_signal, run): ``n_signal``, ``run``, ``s_over_b`` and
    ``s_over_sqrt_b`` in the SR of the data, and ``{method: peak_sic}``, ``{method}_auc``.
    ``on_run(n_signal, run, split, results)`` sees each run's test scores (for plots).
    """
    rows = []
    for n_sig in n_signals:
        flows: dict = {}
        for run in range(runs):
            rng = np.random.default_rng([seed, n_sig, run])
            split = make_split(background, signal, independent, n_sig, config, rng)
            res = run_methods(split, config, methods, seed=seed * 100 + run, flows=flows)
            if on_run:
                on_run(int(n_sig), run, split, res)
            if retrain_flows:
                flows = {}
            s, b = split.n_signal_sr, split.n_background_sr
            row = {"n_signal": int(n_sig), "run": run, "signal_sr": s, "background_sr": b,
                   "s_over_b": s / b, "s_over_sqrt_b": s / np.sqrt(b)}
            for name, r in res.items():
                row[name] = r["peak_sic"]
                row[f"{name}_auc"] = r["auc"]
                row[f"{name}_seconds"] = r["seconds"]
            rows.append(row)
            if log:
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                             if not k.endswith("_seconds")))
    return rows


def config_dict(config: SearchConfig) -> dict:
    """The configuration as plain JSON-able values (for the results file)."""
    return asdict(config)
