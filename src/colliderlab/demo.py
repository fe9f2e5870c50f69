"""The main job (``make run`` / ``colliderlab demo``): top tagging with a BDT on jet observables.

1. Generate a small top-vs-QCD sample with the ``toptag`` preset (Pythia 8 + ATLAS-like
   detector + anti-kT R=0.8, pT 550-650 GeV), cached on disk: a second run reuses it.
2. Print its summary (counts, mass / pT / tau_32 / multiplicity quantiles per class).
3. Compute the jet observables and train an xgboost BDT (train/validation/test split).
4. Print AUC, accuracy and background rejection 1/eps_B at 30% (and 50%) signal efficiency,
   next to single-observable taggers, and write PNGs of the observables per class and the ROC.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_text
from colliderlab.features.highlevel import DEFAULT_OBSERVABLES

__all__ = ["DemoConfig", "BDT_FEATURES", "run_demo"]

# Observables the BDT may see (the jet's pT/eta/phi are left out: they only reflect the selection):
# the default observables representation, defined once in features/highlevel.py. On a preset sample the
# demo keeps those the preset's public dataset carries (toptag: no charge, so no n_charged), as `auto` does.
BDT_FEATURES = DEFAULT_OBSERVABLES
PLOTTED = ("mass", "mass_sd", "tau21", "tau32", "c2_b1", "d2_b1", "n2_b1", "n_constituents")


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the main job."""

    n_jets: int = 8000  # per class
    seed: int = 2024
    workers: int = 0  # 0: all cores
    data_dir: str = "data"
    out_dir: str = "runs/demo"
    detector: str = "atlas-like"
    progress: bool = True


def _split(n: int, seed: int, fractions: tuple[float, float] = (0.6, 0.2)) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
    return perm[:a], perm[a:b], perm[b:]


def _ensure_sample(config: DemoConfig, sample: Path, workers: int, echo: Any) -> None:
    """Generate the toptag sample into ``sample`` unless a file with the right number of jets is there."""
    from colliderlab.data.generate import generate_preset
    from colliderlab.data.h5 import count_h5

    reuse = False
    if sample.exists():
        try:
            reuse = count_h5(sample) == 2 * config.n_jets
        except (OSError, ValueError):
            reuse = False
    if reuse:
        echo(f"[1/4] reusing cached sample {sample}")
    else:
        echo(f"[1/4] generating {config.n_jets} top + {config.n_jets} QCD jets -> {sample} ({workers} workers)")
        report = generate_preset(
            "toptag",
            config.n_jets,
            sample,
            overrides={"seed": config.seed, "detector": config.detector},
            workers=workers,
            overwrite=True,
            progress=config.progress,
        )
        echo(report.summary())


def _tagger_metrics(
    taggers: dict[str, np.ndarray], yt: np.ndarray, rows: dict[str, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """AUC and rejections of each tagger's scores against labels ``yt`` into ``rows``; returns the ROC curves."""
    from colliderlab import metrics

    curves = {}
    for name, s in taggers.items():
        curves[name] = metrics.roc_curve(s, yt)[:2]
        rows[name] = {
            "auc": metrics.auc(s, yt),
            "rejection_at_0.3": metrics.rejection_at(s, yt, 0.3),
            "rejection_at_0.5": metrics.rejection_at(s, yt, 0.5),
            # how many background jets pass at eps_S = 0.3: the rejection's statistical weight
            "n_background_passing_at_0.3": metrics.background_efficiency_at(s, yt, 0.3) * int((yt == 0).sum()),
        }
    return curves


def run_demo(config: DemoConfig = DemoConfig(), echo=print) -> dict[str, Any]:
    """Run the main job; returns the metrics it prints (also written to ``out_dir/metrics.json``)."""
    from colliderlab import metrics
    from colliderlab.data.contract import narrow_to_content
    from colliderlab.data.h5 import read_h5
    from colliderlab.features.highlevel import ObservablesConfig
    from colliderlab.features.observables import compute_observables
    from colliderlab.models.bdt import BDTClassifier, BDTConfig
    from colliderlab.plots import plot_observables, plot_roc
    from colliderlab.summary import format_summary, summarize_file

    t0 = time.perf_counter()
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = Path(config.data_dir) / f"toptag_{config.detector}_n{config.n_jets}_seed{config.seed}.h5"
    workers = config.workers or os.cpu_count() or 1

    # 1. sample (cached)
    _ensure_sample(config, sample, workers, echo)

    # 2. summary
    echo("[2/4] sample summary")
    echo(format_summary(summarize_file(sample)))

    # 3. features + BDT
    echo("[3/4] observables and BDT")
    batch = read_h5(sample)
    names = ObservablesConfig().resolve(narrow_to_content(batch, sample)).names  # the preset's information
    feats = compute_observables(batch, progress=config.progress)
    x = np.stack([feats[k] for k in names], axis=1)  # (N, F)
    y = (np.asarray(batch.label_names)[batch.label] == "top").astype(int)  # (N,)
    train, val, test = _split(len(y), config.seed)
    bdt = BDTClassifier(BDTConfig(seed=config.seed), feature_names=names)
    bdt.fit(x[train], y[train], x[val], y[val])
    bdt.save(out_dir / "bdt.ubj")
    score = bdt.score(x[test])

    # 4. metrics and plots
    result: dict[str, Any] = {"sample": str(sample), "n_test": int(len(test)), "taggers": {}}
    taggers = {"BDT (observables)": score, "tau32 only": -feats["tau32"][test], "mass_sd only": -np.abs(feats["mass_sd"][test] - 173.0)}
    curves = _tagger_metrics(taggers, y[test], result["taggers"])
    result["taggers"]["BDT (observables)"]["accuracy"] = metrics.accuracy(score, y[test])
    result["feature_importance"] = dict(list(bdt.feature_importance().items())[:8])
    echo("[4/4] results on the test split")
    echo(f"{'tagger':>20} {'AUC':>7} {'1/eB@0.3':>10} {'(bkg jets)':>10} {'1/eB@0.5':>10}")
    for name, r in result["taggers"].items():
        echo(
            f"{name:>20} {r['auc']:7.4f} {r['rejection_at_0.3']:10.1f} {r['n_background_passing_at_0.3']:10.1f}"
            f" {r['rejection_at_0.5']:10.1f}"
        )
    echo("(1/eB rests on the background jets passing: with a few of them it is a rough estimate)")
    obs_png = plot_observables(feats, batch.label, batch.label_names, out_dir / "observables.png", names=PLOTTED)
    roc_png = plot_roc(curves, out_dir / "roc.png", title="top vs QCD (toptag preset)")
    result["plots"] = [str(obs_png), str(roc_png)]
    result["config"] = asdict(config)
    result["wall_seconds"] = time.perf_counter() - t0
    write_text(out_dir / "metrics.json", json.dumps(result, indent=2, default=float))
    echo(f"wrote {obs_png}, {roc_png} and {out_dir / 'metrics.json'} ({result['wall_seconds']:.0f} s)")
    return result
