"""The methods of a search (k-fold classifiers of SR data against each template, ANODE's density
ratio), the significance improvement, and the sweep over injected signal and runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from colliderlab.anomaly.weak.config import METHODS, ClassifierConfig, SearchConfig
from colliderlab.anomaly.weak.density import (
    _flow_log_prob,
    _standardise_m,
    sample_template,
    train_flow,
)
from colliderlab.anomaly.weak.samples import DijetSample, Preprocessor, SearchSplit, make_split

__all__ = ["kfold_classifier", "run_methods", "peak_sic", "sweep"]

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
