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

from colliderlab.atomic import write_json
from colliderlab.checks import check_matrix
from colliderlab.models.bdt import BDTConfig
from colliderlab.train.trainer import TrainerConfig

__all__ = ["EventAnomalyConfig", "SCORES", "run_event_anomaly", "run_event_files", "efficiency_table_markdown",
           "log_transform"]

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


def _trigger_path(
    config: EventAnomalyConfig, models: Mapping[str, Any], x_sm: np.ndarray, signals: Mapping[str, np.ndarray],
    out: Path, rng: np.random.Generator,
) -> dict[str, Any]:
    """ONNX parity of both scorers; hls4ml emulation of the autoencoder and its score vs float."""
    from colliderlab import metrics as mt
    from colliderlab.anomaly import event_ae_train as ea

    res: dict[str, Any] = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        try:
            res[f"onnx_{name}"] = ea.export_onnx_scorer(model, x_sm, out / f"anomaly_{name}.onnx")
        except Exception as err:  # optional dependencies (onnxruntime, onnxscript) or exporter
            res[f"onnx_{name}"] = {"error": f"{type(err).__name__}: {err}"}
    from colliderlab.export import hls

    ok, why = hls.hls4ml_available()
    if not ok:
        res["hls4ml"] = {"skipped": why}
        return res
    n = config.n_trigger_events
    sm = x_sm[rng.permutation(len(x_sm))[:n]]
    cfg = hls.HLSConfig.from_dict({"project_name": "anomaly_ae", "output_dir": str(out / "hls4ml_prj"),
                                   **dict(config.hls)})
    t0 = time.perf_counter()
    em = ea.hls_scores(models["ae"], sm, cfg)
    handle = em.pop("handle")
    t_compile = time.perf_counter() - t0
    per_signal = {}
    for sig, xs in signals.items():
        xs = xs[rng.permutation(len(xs))[:n]]
        es = ea.hls_scores(models["ae"], xs, handle=handle)
        lab = np.r_[np.zeros(len(sm)), np.ones(len(xs))]
        per_signal[sig] = {
            "auc_float": mt.auc(np.r_[em["float"], es["float"]], lab),
            "auc_emulated": mt.auc(np.r_[em["emulated"], es["emulated"]], lab),
            "n_events": int(len(xs)),
            "clipped_fraction": es["clipped_fraction"],
            **{f"signal_{k}": v for k, v in ea.compare_scores(es["float"], es["emulated"]).items()},
        }
    res["hls4ml"] = {
        "config": cfg.to_dict(),
        "score_computed": "outside the firmware: mean squared difference of firmware output and input, float64",
        "seconds_convert_compile": t_compile,
        "sm": {**ea.compare_scores(em["float"], em["emulated"]), "clipped_fraction": em["clipped_fraction"]},
        "signals": per_signal,
        "resources": hls.resource_estimate(ea.hls_network(models["ae"]), (models["ae"].config.n_features,), cfg),
        "project": str(handle.output_dir),
    }
    return res


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
    import torch

    from colliderlab import metrics as mt
    from colliderlab.anomaly import event_ae_train as ea
    from colliderlab.anomaly.pvalues import (
        pvalues,
        reachable_acceptances,
        signal_efficiencies,
        threshold_at_acceptance,
    )
    from colliderlab.data.dataset import split_indices
    from colliderlab.models.registry import build_config, model_spec

    config = config or EventAnomalyConfig()
    t_start = time.perf_counter()
    x_train = _check(train_features, "train_features")
    f = x_train.shape[1]
    x_test = _check(test_sm_features, "test_sm_features", f)
    if not signals:
        raise ValueError("run_event_anomaly needs at least one signal")
    sig = {str(k): _check(v, f"signals[{k!r}]", f) for k, v in signals.items()}
    if config.log_features:
        x_train, x_test = (log_transform(v, feature_names, config.log_features) for v in (x_train, x_test))
        sig = {k: log_transform(v, feature_names, config.log_features) for k, v in sig.items()}
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)

    fit_idx, val_idx, _ = split_indices(len(x_train), config.val_fraction, 0.0, config.seed)
    x_fit, x_val = x_train[fit_idx], x_train[val_idx]
    sig_train, sig_test = {}, {}
    for name, xs in sig.items():
        perm = rng.permutation(len(xs))
        n_tr = int(round(config.signal_train_fraction * len(xs)))
        sig_train[name], sig_test[name] = xs[perm[:n_tr]], xs[perm[n_tr:]]
        if len(sig_test[name]) == 0:
            raise ValueError(f"signal {name!r} has no test events left ({len(xs)} events)")

    # ---- the unsupervised scorers
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

    def scores_of(x: np.ndarray) -> dict[str, np.ndarray]:
        terms = {k: ea.score_events(m, x) for k, m in models.items()}
        return {name: terms[m][t] for name, (m, t) in SCORES.items()}

    s_test, s_val = scores_of(x_test), scores_of(x_val)
    s_sig = {name: scores_of(xs) for name, xs in sig_test.items()}

    # ---- the supervised reference, one BDT per signal
    bdt_info = {}
    if config.signal_train_fraction > 0:
        for name in sig:
            if len(sig_train[name]) < 10:
                raise ValueError(f"signal {name!r}: {len(sig_train[name])} BDT training events; need at least 10")
            sc, info = _bdt_scores(config, x_fit, x_val, sig_train[name],
                                   {"sm": x_test, "sig": sig_test[name]}, feature_names, rng)
            bdt_info[name] = info
            s_sig[name][f"bdt_{name}"] = sc["sig"]
            s_test[f"bdt_{name}"] = sc["sm"]
    methods = [*SCORES, *(["bdt"] if bdt_info else [])]

    def method_key(method: str, signal: str) -> str:
        return f"bdt_{signal}" if method == "bdt" else method

    # ---- AUCs, efficiencies at SM acceptances, p-values
    kept, dropped = reachable_acceptances(len(x_test), config.acceptances)
    aucs: dict[str, dict[str, float]] = {}
    rocs: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    rows: list[dict[str, Any]] = []
    for name in sig:
        aucs[name], rocs[name] = {}, {}
        for m in methods:
            k = method_key(m, name)
            s = np.r_[s_test[k], s_sig[name][k]]
            lab = np.r_[np.zeros(len(x_test)), np.ones(len(sig_test[name]))]
            aucs[name][m] = mt.auc(s, lab)
            es, eb, _ = mt.roc_curve(s, lab)
            rocs[name][f"{m} (AUC {aucs[name][m]:.3f})"] = (es, eb)
            if kept:
                rows += [{"method": m, **r} for r in signal_efficiencies(s_test[k], {name: s_sig[name][k]}, kept)]
    from scipy import stats

    uniformity = {}
    p_val = {m: pvalues(s_test[m], s_val[m]) for m in SCORES}
    for m in SCORES:
        ks = stats.kstest(p_val[m], "uniform")
        ks2 = stats.ks_2samp(s_val[m], s_test[m])
        uniformity[m] = {"n_events": int(len(p_val[m])), "n_reference": int(len(x_test)),
                         "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                         "ks_2samp_pvalue": float(ks2.pvalue),
                         "fraction_p_below_0.01": float((p_val[m] <= 0.01).mean())}
    p_sig = {name: {m: pvalues(s_test[m], s_sig[name][m]) for m in SCORES} for name in sig}
    per_process = {}
    if test_sm_process is not None:
        proc = np.asarray(test_sm_process).reshape(-1)
        if len(proc) != len(x_test):
            raise ValueError(f"test_sm_process has {len(proc)} entries for {len(x_test)} test events")
        names = list(process_names) or [str(i) for i in range(int(proc.max()) + 1)]
        for i, pname in enumerate(names):
            sel = proc == i
            if sel.any() and kept:
                per_process[pname] = {
                    "n_events": int(sel.sum()),
                    **{f"{m}_acceptance@{a:g}": float((s_test[m][sel] > threshold_at_acceptance(s_test[m], a)).mean())
                       for m in SCORES for a in kept},
                }

    metrics: dict[str, Any] = {
        "reference": "arXiv:1811.10276",
        "n_features": f,
        "feature_names": list(feature_names),
        "n_events": {"sm_train": int(len(x_fit)), "sm_val": int(len(x_val)), "sm_test": int(len(x_test)),
                     **{f"signal_test_{k}": int(len(v)) for k, v in sig_test.items()},
                     **{f"signal_train_{k}": int(len(v)) for k, v in sig_train.items()}},
        "signals": list(sig),
        "methods": methods,
        "scores": {k: f"{m}.{t}" for k, (m, t) in SCORES.items()},
        "acceptances": list(kept),
        "dropped_acceptances": list(dropped),
        "min_acceptance": 10.0 / len(x_test),
        "auc": aucs,
        "efficiencies": rows,
        "pvalue_uniformity": uniformity,
        "signal_median_pvalue": {n: {m: float(np.median(v)) for m, v in d.items()} for n, d in p_sig.items()},
        "sm_process_acceptance": per_process,
        "training": training,
        "bdt": bdt_info,
        "config": asdict(config),
    }

    if config.trigger:
        import tempfile

        where = out / "trigger" if out is not None else Path(tempfile.mkdtemp(prefix="anomaly_trigger_"))
        metrics["trigger"] = _trigger_path(config, models, x_test, sig_test, where, rng)
    metrics["seconds"] = time.perf_counter() - t_start

    if out is not None:
        np.savez_compressed(out / "scores.npz", **{f"sm_test__{k}": v for k, v in s_test.items()},
                            **{f"sm_val__{k}": v for k, v in s_val.items()},
                            **{f"{n}__{k}": v for n, d in s_sig.items() for k, v in d.items()})
        if config.plots:
            metrics["plots"] = _plots(out / "plots", s_test, s_val, s_sig, p_val, p_sig, rocs, kept,
                                      test_sm_process, process_names)
        write_json(out / "metrics.json", metrics)
        (out / "efficiencies.md").write_text(efficiency_table_markdown(metrics))
    return metrics


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


INPUTS = ("features", "objects")


def run_event_files(sm_files: Mapping[str, str | os.PathLike], signal_files: Mapping[str, str | os.PathLike],
                    out_dir: str | os.PathLike, config: EventAnomalyConfig | None = None, *,
                    test_fraction: float = 0.5, n_events: int | None = None,
                    inputs: str = "features") -> dict[str, Any]:
    """:func:`run_event_anomaly` on files of :func:`colliderlab.data.event_io.generate_events`.

    The Standard-Model processes are mixed by :func:`colliderlab.data.event_io.cocktail` (fractions =
    measured sigma x filter x trigger efficiency, shuffled); its last ``test_fraction`` is the
    held-out test sample. ``inputs``: ``"features"``, the high-level features of arXiv:1811.10276,
    or ``"objects"``, the (pT, eta, phi) of the 19 ADC2021 object slots (57 numbers, the input of the
    arXiv:2107.02157 baselines). Returns the metrics with a ``data`` entry (files, fractions, counts).
    """
    from colliderlab.data.adc2021 import INPUT_NAMES, particle_inputs, to_particles
    from colliderlab.data.event_io import cocktail, read_events

    if inputs not in INPUTS:
        raise ValueError(f"unknown inputs {inputs!r}; valid: {', '.join(INPUTS)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not sm_files or not signal_files:
        raise ValueError("need at least one Standard-Model file and one signal file")
    mix = cocktail(dict(sm_files), n_events, seed=0)
    if inputs == "features":
        x, names = mix["features"], tuple(mix["feature_names"])
        signals = {name: read_events(path)["features"] for name, path in signal_files.items()}
    else:
        x, names = particle_inputs(mix["particles"]), INPUT_NAMES
        signals = {name: particle_inputs(to_particles(read_events(path))) for name, path in signal_files.items()}
    proc = mix["process"]
    n_test = int(round(test_fraction * len(x)))
    metrics = run_event_anomaly(x[:-n_test], x[-n_test:], signals, config, out_dir, feature_names=names,
                                test_sm_process=proc[-n_test:], process_names=mix["process_names"])
    metrics["data"] = {"inputs": inputs, "sm_files": {k: str(v) for k, v in sm_files.items()},
                       "signal_files": {k: str(v) for k, v in signal_files.items()},
                       "cocktail_fractions": mix["fractions"], "cocktail_counts": mix.get("counts")}
    return metrics


def run_adc_files(background: str | os.PathLike, signal_files: Mapping[str, str | os.PathLike],
                  out_dir: str | os.PathLike, config: EventAnomalyConfig | None = None, *,
                  test_fraction: float = 0.5, max_events: int | None = None) -> dict[str, Any]:
    """:func:`run_event_anomaly` on ADC2021 files (arXiv:2107.02157; :mod:`colliderlab.data.adc2021`).

    ``background``: the Standard-Model cocktail file (e.g. ``background_for_training.h5``; its
    first ``max_events`` events, shuffled, the last ``test_fraction`` held out); ``signal_files``:
    name -> signal file (at most ``max_events`` each). Inputs: the 57 (pT, eta, phi) of the slots.
    """
    from colliderlab.data.adc2021 import INPUT_NAMES, particle_inputs, read_adc2021

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not signal_files:
        raise ValueError("need at least one signal file")
    x = particle_inputs(read_adc2021(background, max_events))
    x = x[np.random.default_rng(0).permutation(len(x))]
    signals = {name: particle_inputs(read_adc2021(path, max_events)) for name, path in signal_files.items()}
    n_test = int(round(test_fraction * len(x)))
    metrics = run_event_anomaly(x[:-n_test], x[-n_test:], signals, config, out_dir, feature_names=INPUT_NAMES)
    metrics["data"] = {"inputs": "objects", "adc_background": str(background), "n_background": len(x),
                       "signal_files": {k: str(v) for k, v in signal_files.items()}}
    return metrics
