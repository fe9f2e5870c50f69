"""The event-level anomaly search of arXiv:1811.10276 on plain feature arrays.

:func:`run_event_anomaly` trains the autoencoder and the VAE of :mod:`colliderlab.anomaly.event_ae`
on Standard-Model events only, scores a held-out Standard-Model test sample and each benchmark
signal, and reports per signal and per score

* the AUC against the Standard-Model test sample;
* the signal efficiency at chosen Standard-Model acceptances (thresholds from the Standard-Model
  test sample; acceptances below 10 / N of that sample are dropped and listed, never quoted);
* the same for a supervised BDT per signal (:class:`colliderlab.models.bdt.BDTClassifier`, trained
  on the same features, Standard Model vs that signal: the reference a model-specific search
  reaches);

plus the p-values of a second held-out Standard-Model sample (the validation split) against the
test sample, with a Kolmogorov-Smirnov test of their uniformity (valid when the test sample is
much larger than the validation split: the reference's own fluctuations are shared by all the
p-values, which a one-sample test ignores; the two-sample KS test of the scores themselves, also
reported, is exact), and, when hls4ml and g++ are
there, the trigger path: the scorers exported to ONNX with parity, and the autoencoder's
fixed-point firmware emulated and its anomaly score compared with the float one.

Inputs are arrays (N, F) of the same F features (e.g. from ``colliderlab.data.event_io``):
``train_features`` and ``test_sm_features`` Standard-Model events (a cocktail), ``signals`` a
mapping of signal name to (M, F). Each signal is split into a BDT-training part and a test part
(``signal_train_fraction``); every method is evaluated on the same test part.

Written to ``out_dir``: ``metrics.json``, ``efficiencies.md``, ``scores.npz`` (every score of
every test event), ``ae.safetensors`` / ``vae.safetensors`` (+ ``.json``) (:func:`colliderlab.anomaly.event_ae_train.load_scorer`),
``plots/`` (score and p-value distributions per process, ROC curves per signal), and with the
trigger path ``trigger/`` (``anomaly_ae.onnx``, ``anomaly_vae.onnx``, the hls4ml project).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.anomaly.event_trigger import trigger_path
from colliderlab.atomic import write_json
from colliderlab.checks import check_matrix
from colliderlab.models.bdt import BDTConfig
from colliderlab.train.trainer import TrainerConfig

__all__ = ["EventAnomalyConfig", "SCORES", "run_event_anomaly", "efficiency_table_markdown", "log_transform"]

SCORES: dict[str, tuple[str, str]] = {
    "ae": ("ae", "total"),
    "vae_total": ("vae", "total"),
    "vae_kl": ("vae", "kl"),
    "vae_reco": ("vae", "reco"),
}
"""Score name -> (model, term of :data:`colliderlab.anomaly.event_ae.SCORE_TERMS`)."""


def _default_trainer() -> TrainerConfig:
    return TrainerConfig(epochs=20, batch_size=256, lr=1e-3, schedule="cosine", patience=0, progress=False)


@dataclass(frozen=True)
class EventAnomalyConfig:
    """Settings of :func:`run_event_anomaly`.

    ``ae``/``vae``: overrides of the ``anomaly_ae``/``anomaly_vae`` presets (e.g. ``{"latent": 3}``).
    ``bdt_max_sm``: at most this many Standard-Model training events per BDT (``None``: all).
    ``hls``: an :class:`colliderlab.export.hls.HLSConfig` dict for the trigger path.
    ``n_trigger_events``: Standard-Model test events (and at most as many per signal) run through
    the emulated firmware.
    ``log_features``: names of non-negative, heavy-tailed features (momenta, masses, HT) replaced
    by ``log(1 + x)`` before anything else (every method, the exported scorers included, then
    takes the transformed features; in a trigger the logarithm is a lookup table before the
    network). Needs ``feature_names``.
    """

    ae_preset: str = "lite"
    vae_preset: str = "lite"
    ae: Mapping[str, Any] = field(default_factory=dict)
    vae: Mapping[str, Any] = field(default_factory=dict)
    trainer: TrainerConfig = field(default_factory=_default_trainer)
    val_fraction: float = 0.1
    acceptances: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
    signal_train_fraction: float = 0.5
    bdt: BDTConfig = field(default_factory=BDTConfig)
    bdt_max_sm: int | None = 200_000
    trigger: bool = True
    hls: Mapping[str, Any] = field(default_factory=dict)
    n_trigger_events: int = 2000
    log_features: tuple[str, ...] = ()
    plots: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0.0 <= self.signal_train_fraction < 1.0:
            raise ValueError(f"signal_train_fraction must be in [0, 1), got {self.signal_train_fraction}")
        bad = [a for a in self.acceptances if not 0.0 < a <= 1.0]
        if bad:
            raise ValueError(f"acceptances must be in (0, 1], got {bad}")


def _check(x: Any, what: str, n_features: int | None = None) -> np.ndarray:
    return check_matrix(x, what, n_features=n_features, allow_empty=False)


def efficiency_table_markdown(metrics: Mapping[str, Any], acceptance: float | None = None) -> str:
    """A markdown table of :func:`run_event_anomaly`'s metrics: one row per signal, AUC and signal
    efficiency at each reachable acceptance (or only ``acceptance``) per method."""
    accs = [a for a in metrics["acceptances"] if acceptance is None or np.isclose(a, acceptance)]
    methods = list(metrics["methods"])
    eff = {(r["method"], r["signal"], r["acceptance"]): r for r in metrics["efficiencies"]}
    head = ["signal"] + [f"{m} AUC" for m in methods] + [f"{m} eff@{a:g}" for a in accs for m in methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sig in metrics["signals"]:
        row = [sig] + [f"{metrics['auc'][sig].get(m, float('nan')):.3f}" for m in methods]
        for a in accs:
            for m in methods:
                r = eff.get((m, sig, a))
                row.append("-" if r is None else f"{r['signal_efficiency']:.4f} ± {r['signal_efficiency_error']:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    n = metrics["n_events"]["sm_test"]
    note = f"\nSM test events: {n}; acceptances below 10/N = {10 / n:.2g} not quoted"
    if metrics.get("dropped_acceptances"):
        note += f" (dropped: {', '.join(f'{a:g}' for a in metrics['dropped_acceptances'])})"
    return "\n".join(lines) + note + ".\n"


def log_transform(x: np.ndarray, feature_names: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """A copy of ``x`` (N, F) with the columns ``names`` replaced by ``log(1 + max(x, 0))``."""
    names = tuple(names)
    if not names:
        return x
    unknown = [n for n in names if n not in feature_names]
    if unknown:
        raise ValueError(f"log_features {unknown} are not among the features: {', '.join(feature_names) or '(no names given)'}")
    out = np.array(x, np.float32, copy=True)
    for n in names:
        j = list(feature_names).index(n)
        out[:, j] = np.log1p(np.maximum(out[:, j], 0.0))
    return out


def _bdt_scores(
    config: EventAnomalyConfig, x_sm: np.ndarray, x_sm_val: np.ndarray, x_sig: np.ndarray,
    evaluate: Mapping[str, np.ndarray], feature_names: Sequence[str], rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A supervised BDT, Standard Model (0) vs one signal (1); scores of ``evaluate`` arrays."""
    from colliderlab.models.bdt import BDTClassifier

    if config.bdt_max_sm is not None and len(x_sm) > config.bdt_max_sm:
        x_sm = x_sm[rng.choice(len(x_sm), config.bdt_max_sm, replace=False)]
    n_val = max(1, len(x_sig) // 5)
    perm = rng.permutation(len(x_sig))
    sig_val, sig_fit = x_sig[perm[:n_val]], x_sig[perm[n_val:]]
    x = np.concatenate([x_sm, sig_fit])
    y = np.r_[np.zeros(len(x_sm), np.int64), np.ones(len(sig_fit), np.int64)]
    xv = np.concatenate([x_sm_val, sig_val])
    yv = np.r_[np.zeros(len(x_sm_val), np.int64), np.ones(len(sig_val), np.int64)]
    t0 = time.perf_counter()
    bdt = BDTClassifier(config.bdt, tuple(feature_names) if len(feature_names) == x.shape[1] else ())
    bdt.fit(x, y, xv, yv)
    info = {"n_sm_train": int(len(x_sm)), "n_signal_train": int(len(sig_fit)), "n_signal_val": int(n_val),
            "seconds": time.perf_counter() - t0, "n_nodes": bdt.n_params()}
    return {k: bdt.score(v).astype(np.float64) for k, v in evaluate.items()}, info


def run_event_anomaly(
    train_features: np.ndarray,
    test_sm_features: np.ndarray,
    signals: Mapping[str, np.ndarray],
    config: EventAnomalyConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    feature_names: Sequence[str] = (),
    test_sm_process: np.ndarray | None = None,
    process_names: Sequence[str] = (),
) -> dict[str, Any]:
    """Train the AE and the VAE on Standard-Model events, compare them with a supervised BDT per signal.

    Args:
        train_features: (N_train, F) Standard-Model events (a validation split is taken from them).
        test_sm_features: (N_test, F) held-out Standard-Model events: the reference of the p-values
            and of every threshold.
        signals: signal name -> (M, F) events.
        test_sm_process: (N_test,) process index of each test event, for per-process plots/scores.
        process_names: names of those indices.
    Returns:
        The metrics dict written to ``out_dir/metrics.json``: ``auc[signal][method]``,
        ``efficiencies`` (rows of :func:`colliderlab.anomaly.pvalues.signal_efficiencies` with a
        ``method``), ``pvalue_uniformity`` (KS test of the held-out SM p-values per score), ...
    """
    from colliderlab.anomaly.pvalues import pvalues, reachable_acceptances

    config = config or EventAnomalyConfig()
    t_start = time.perf_counter()
    x_train, x_test, sig = _inputs(train_features, test_sm_features, signals, config, feature_names)
    f = x_train.shape[1]
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    x_fit, x_val, sig_train, sig_test = _split(x_train, sig, config, rng)

    models, training = _train_scorers(config, f, x_fit, x_val, out)
    s_test, s_val = _scores(models, x_test), _scores(models, x_val)
    s_sig = {name: _scores(models, xs) for name, xs in sig_test.items()}
    bdt_info = _supervised(config, x_fit, x_val, x_test, sig_train, sig_test, s_test, s_sig, feature_names, rng)
    methods = [*SCORES, *(["bdt"] if bdt_info else [])]

    kept, dropped = reachable_acceptances(len(x_test), config.acceptances)
    aucs, rocs, rows = _performance(methods, len(x_test), s_test, s_sig, kept)
    p_val = {m: pvalues(s_test[m], s_val[m]) for m in SCORES}
    p_sig = {name: {m: pvalues(s_test[m], s_sig[name][m]) for m in SCORES} for name in sig}

    metrics: dict[str, Any] = {
        "reference": "arXiv:1811.10276",
        "n_features": f,
        "feature_names": list(feature_names),
        "n_events": {"sm_train": int(len(x_fit)), "sm_val": int(len(x_val)), "sm_test": int(len(x_test)),
                     **{f"signal_{part}_{k}": int(len(v)) for part, d in (("test", sig_test), ("train", sig_train))
                        for k, v in d.items()}},
        "signals": list(sig),
        "methods": methods,
        "scores": {k: f"{m}.{t}" for k, (m, t) in SCORES.items()},
        "acceptances": list(kept),
        "dropped_acceptances": list(dropped),
        "min_acceptance": 10.0 / len(x_test),
        "auc": aucs,
        "efficiencies": rows,
        "pvalue_uniformity": _uniformity(p_val, s_val, s_test),
        "signal_median_pvalue": {n: {m: float(np.median(v)) for m, v in d.items()} for n, d in p_sig.items()},
        "sm_process_acceptance": _per_process(s_test, len(x_test), test_sm_process, process_names, kept),
        "training": training,
        "bdt": bdt_info,
        "config": asdict(config),
    }

    if config.trigger:
        metrics["trigger"] = trigger_path(models, x_test, sig_test, out, rng, n_events=config.n_trigger_events,
                                          hls_options=config.hls)
    metrics["seconds"] = time.perf_counter() - t_start

    if out is not None:
        plots = (p_val, p_sig, rocs, kept, test_sm_process, process_names) if config.plots else None
        _write_outputs(out, metrics, s_test, s_val, s_sig, plots)
    return metrics


def _write_outputs(
    out: Path, metrics: dict[str, Any], s_test: Mapping[str, np.ndarray], s_val: Mapping[str, np.ndarray],
    s_sig: Mapping[str, Mapping[str, np.ndarray]], plots: tuple[Any, ...] | None,
) -> None:
    """``scores.npz``, the plots (``plots``: the rest of :func:`_plots`' arguments, or ``None``),
    ``metrics.json`` (with the plots' files) and ``efficiencies.md``."""
    np.savez_compressed(out / "scores.npz", **{f"sm_test__{k}": v for k, v in s_test.items()},
                        **{f"sm_val__{k}": v for k, v in s_val.items()},
                        **{f"{n}__{k}": v for n, d in s_sig.items() for k, v in d.items()})
    if plots is not None:
        metrics["plots"] = _plots(out / "plots", s_test, s_val, s_sig, *plots)
    write_json(out / "metrics.json", metrics)
    (out / "efficiencies.md").write_text(efficiency_table_markdown(metrics))


def _inputs(
    train_features: np.ndarray, test_sm_features: np.ndarray, signals: Mapping[str, np.ndarray],
    config: EventAnomalyConfig, feature_names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The checked (and, for ``config.log_features``, log-transformed) train, test and signal arrays."""
    x_train = _check(train_features, "train_features")
    f = x_train.shape[1]
    x_test = _check(test_sm_features, "test_sm_features", f)
    if not signals:
        raise ValueError("run_event_anomaly needs at least one signal")
    sig = {str(k): _check(v, f"signals[{k!r}]", f) for k, v in signals.items()}
    if config.log_features:
        x_train, x_test = (log_transform(v, feature_names, config.log_features) for v in (x_train, x_test))
        sig = {k: log_transform(v, feature_names, config.log_features) for k, v in sig.items()}
    return x_train, x_test, sig


def _split(
    x_train: np.ndarray, sig: Mapping[str, np.ndarray], config: EventAnomalyConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Standard-Model fit/validation split; each signal into its BDT-training and test parts."""
    from colliderlab.data.dataset import split_indices

    fit_idx, val_idx, _ = split_indices(len(x_train), config.val_fraction, 0.0, config.seed)
    sig_train, sig_test = {}, {}
    for name, xs in sig.items():
        perm = rng.permutation(len(xs))
        n_tr = int(round(config.signal_train_fraction * len(xs)))
        sig_train[name], sig_test[name] = xs[perm[:n_tr]], xs[perm[n_tr:]]
        if len(sig_test[name]) == 0:
            raise ValueError(f"signal {name!r} has no test events left ({len(xs)} events)")
    return x_train[fit_idx], x_train[val_idx], sig_train, sig_test


def _train_scorers(
    config: EventAnomalyConfig, f: int, x_fit: np.ndarray, x_val: np.ndarray, out: Path | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unsupervised scorers, ``ae`` and ``vae``, trained (and saved to ``out``); returns them
    and their training summaries."""
    import torch

    from colliderlab.anomaly import event_ae_train as ea
    from colliderlab.models.registry import build_config, model_spec

    models: dict[str, Any] = {}
    training: dict[str, Any] = {}
    for key, reg, preset, over in (("ae", "anomaly_ae", config.ae_preset, config.ae),
                                   ("vae", "anomaly_vae", config.vae_preset, config.vae)):
        torch.manual_seed(config.seed)
        model = model_spec(reg).cls(build_config(reg, preset, n_features=f, **dict(over)))
        res = ea.train_scorer(model, x_fit, x_val, config.trainer)
        models[key] = model
        last = res.history[-1] if res.history else {}
        training[key] = {"model": reg, "config": asdict(model.config), "steps": res.steps, "epochs": res.epochs_run,
                         "seconds": res.seconds, "last_epoch": last}
        if out is not None:
            ea.save_scorer(model, out / f"{key}.safetensors")
    return models, training


def _scores(models: Mapping[str, Any], x: np.ndarray) -> dict[str, np.ndarray]:
    """Every score of :data:`SCORES` for the events ``x`` (N, F): name -> (N,)."""
    from colliderlab.anomaly import event_ae_train as ea

    terms = {k: ea.score_events(m, x) for k, m in models.items()}
    return {name: terms[m][t] for name, (m, t) in SCORES.items()}


def _supervised(
    config: EventAnomalyConfig, x_fit: np.ndarray, x_val: np.ndarray, x_test: np.ndarray,
    sig_train: Mapping[str, np.ndarray], sig_test: Mapping[str, np.ndarray], s_test: dict[str, np.ndarray],
    s_sig: dict[str, dict[str, np.ndarray]], feature_names: Sequence[str], rng: np.random.Generator,
) -> dict[str, Any]:
    """The supervised reference, one BDT per signal: adds its scores as ``bdt_<signal>`` to
    ``s_test`` and ``s_sig[signal]``; returns the BDTs' training summaries (empty without
    signal training events)."""
    bdt_info = {}
    if config.signal_train_fraction > 0:
        for name in sig_train:
            if len(sig_train[name]) < 10:
                raise ValueError(f"signal {name!r}: {len(sig_train[name])} BDT training events; need at least 10")
            sc, info = _bdt_scores(config, x_fit, x_val, sig_train[name],
                                   {"sm": x_test, "sig": sig_test[name]}, feature_names, rng)
            bdt_info[name] = info
            s_sig[name][f"bdt_{name}"] = sc["sig"]
            s_test[f"bdt_{name}"] = sc["sm"]
    return bdt_info


def _performance(
    methods: Sequence[str], n_test: int, s_test: Mapping[str, np.ndarray],
    s_sig: Mapping[str, Mapping[str, np.ndarray]], kept: Sequence[float],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], list[dict[str, Any]]]:
    """Per signal and method: the AUC against the Standard-Model test sample, the ROC curve and
    the signal efficiencies at the ``kept`` acceptances."""
    from colliderlab import metrics as mt
    from colliderlab.anomaly.pvalues import signal_efficiencies

    aucs: dict[str, dict[str, float]] = {}
    rocs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    rows: list[dict[str, Any]] = []
    for name in s_sig:
        aucs[name], rocs[name] = {}, {}
        for m in methods:
            k = f"bdt_{name}" if m == "bdt" else m
            s = np.r_[s_test[k], s_sig[name][k]]
            lab = np.r_[np.zeros(n_test), np.ones(len(s_sig[name][k]))]
            aucs[name][m] = mt.auc(s, lab)
            es, eb, _ = mt.roc_curve(s, lab)
            rocs[name][f"{m} (AUC {aucs[name][m]:.3f})"] = (es, eb)
            if kept:
                rows += [{"method": m, **r} for r in signal_efficiencies(s_test[k], {name: s_sig[name][k]}, kept)]
    return aucs, rocs, rows


def _uniformity(
    p_val: Mapping[str, np.ndarray], s_val: Mapping[str, np.ndarray], s_test: Mapping[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """KS tests of the held-out Standard-Model p-values (one-sample, against uniform) and scores
    (two-sample, against the test sample), per score."""
    from scipy import stats

    uniformity = {}
    for m in SCORES:
        ks = stats.kstest(p_val[m], "uniform")
        ks2 = stats.ks_2samp(s_val[m], s_test[m])
        uniformity[m] = {"n_events": int(len(p_val[m])), "n_reference": int(len(s_test[m])),
                         "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                         "ks_2samp_pvalue": float(ks2.pvalue),
                         "fraction_p_below_0.01": float((p_val[m] <= 0.01).mean())}
    return uniformity


def _per_process(
    s_test: Mapping[str, np.ndarray], n_test: int, test_sm_process: np.ndarray | None,
    process_names: Sequence[str], kept: Sequence[float],
) -> dict[str, dict[str, float]]:
    """Per Standard-Model process of the test sample: its events and its acceptance per score at
    each threshold (empty without ``test_sm_process``)."""
    from colliderlab.anomaly.pvalues import threshold_at_acceptance

    per_process: dict[str, dict[str, float]] = {}
    if test_sm_process is None:
        return per_process
    proc = np.asarray(test_sm_process).reshape(-1)
    if len(proc) != n_test:
        raise ValueError(f"test_sm_process has {len(proc)} entries for {n_test} test events")
    names = list(process_names) or [str(i) for i in range(int(proc.max()) + 1)]
    for i, pname in enumerate(names):
        sel = proc == i
        if sel.any() and kept:
            per_process[pname] = {
                "n_events": int(sel.sum()),
                **{f"{m}_acceptance@{a:g}": float((s_test[m][sel] > threshold_at_acceptance(s_test[m], a)).mean())
                   for m in SCORES for a in kept},
            }
    return per_process


def _plots(out: Path, s_test, s_val, s_sig, p_val, p_sig, rocs, kept, proc, process_names) -> list[str]:  # noqa: ANN001
    from colliderlab.anomaly import plots as ap
    from colliderlab.anomaly.pvalues import threshold_at_acceptance

    files = []
    for m in SCORES:
        dists: dict[str, np.ndarray] = {}
        if proc is not None:
            proc = np.asarray(proc)
            names = list(process_names) or [str(i) for i in range(int(proc.max()) + 1)]
            for i, pname in enumerate(names):
                if (proc == i).any():
                    dists[f"SM {pname}"] = s_test[m][proc == i]
        else:
            dists["SM test"] = s_test[m]
        for name, d in s_sig.items():
            dists[name] = d[m]
        thr = {f"SM acc. {a:g}": threshold_at_acceptance(s_test[m], a) for a in kept}
        files.append(str(ap.plot_score_distributions(dists, out / f"scores_{m}.png", xlabel=f"{m} score",
                                                      thresholds=thr)))
        pv = {"SM held-out": p_val[m], **{name: d[m] for name, d in p_sig.items()}}
        files.append(str(ap.plot_pvalue_distributions(pv, out / f"pvalues_{m}.png", title=m)))
    for name, curves in rocs.items():
        files.append(str(ap.plot_anomaly_rocs(curves, out / f"roc_{name}.png", title=f"{name} vs Standard Model")))
    return files
