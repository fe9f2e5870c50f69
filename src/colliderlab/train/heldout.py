"""The benchmark's held-out check and its ranking statistics.

A tagger trained on the ``toptag`` preset should apply to the public top-tagging dataset
(arXiv:1902.09914), which carries four-vectors only. The held-out check makes a file like it: an
independent Pythia run (another seed, the same preset) written in the public layout by
:func:`colliderlab.data.formats.toptag_writer.write_toptag`, and scores every trained tagger on
it. Its AUC should agree with the test-split AUC within the statistical precision of the two.

The ranking statistic is the paired-bootstrap spread of the AUC difference between two taggers
on the same test jets (:func:`colliderlab.metrics.paired_auc_difference`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ensure_public_toptag_sample", "heldout_check", "ranking_gaps", "read_test_scores"]

HELDOUT_SEED_OFFSET = 54321  # the held-out sample's Pythia seed is cfg.seed + this (training: + 12345)


def ensure_public_toptag_sample(n_jets: int, data_dir: str | os.PathLike, *, detector: str = "atlas-like",
                                mpi: bool = False, seed: int = 0, workers: int = 1,
                                progress: bool = True) -> Path:
    """Generate (or reuse) ``n_jets`` toptag-preset jets (half top, half QCD) from an independent
    Pythia seed and write them in the public top-tagging layout; returns the file."""
    from colliderlab.data.formats.toptag_writer import write_toptag
    from colliderlab.data.generate import generate_preset
    from colliderlab.data.readers import read_jets

    per_class = n_jets // 2
    tag = f"{detector}_{'mpi' if mpi else 'nompi'}_n{per_class}_seed{seed}"
    path = Path(data_dir) / f"toptag_public-format_{tag}.h5"
    if path.exists():
        return path
    ours = Path(data_dir) / f"toptag_heldout_{tag}.h5"
    if not ours.exists():
        generate_preset("toptag", per_class, ours, workers=workers, progress=progress,
                        overrides={"detector": detector, "mpi": mpi, "seed": seed + HELDOUT_SEED_OFFSET})
    write_toptag(path, read_jets(ours))
    ours.unlink()
    return path


def read_test_scores(run_dir: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A finished binary run's test-split signal scores (N,) and labels (N,) from test_scores.h5
    (a single score file or the master of sharded scores, its shards checked)."""
    from colliderlab.train.score_shards import read_scores

    arrays, _ = read_scores(Path(run_dir) / "test_scores.h5")
    return arrays["scores"][:, -1].astype(np.float64), arrays["labels"].astype(np.int64)



def heldout_check(run_dir: str | os.PathLike, path: str | os.PathLike, *, n_boot: int = 200,
                  seed: int = 0) -> dict[str, Any]:
    """Score a binary run on a held-out labelled file and compare with its test split.

    Returns ``{"auc_test", "auc_test_std", "auc_heldout", "auc_heldout_std", "delta",
    "delta_std", "within"}``: bootstrap standard deviations of both AUCs, their difference and its
    standard deviation (the samples are independent), and whether |delta| <= max(0.005,
    2 delta_std), the benchmark's transfer criterion.
    """
    from colliderlab import metrics
    from colliderlab.train.experiment import load_run

    s_test, y_test = read_test_scores(run_dir)
    probs, labels = load_run(run_dir).predict_proba(path)
    if labels is None:
        raise ValueError(f"{path} has no labels: the held-out check needs a labelled file")
    s_held, y_held = probs[:, -1], labels == 1
    test = metrics.bootstrap_metrics(s_test, y_test == 1, n=n_boot, seed=seed)["auc"]["std"]
    held = metrics.bootstrap_metrics(s_held, y_held, n=n_boot, seed=seed)["auc"]["std"]
    auc_test, auc_held = metrics.auc(s_test, y_test == 1), metrics.auc(s_held, y_held)
    delta, delta_std = auc_held - auc_test, float(np.hypot(test, held))
    return {"auc_test": auc_test, "auc_test_std": test, "auc_heldout": auc_held, "auc_heldout_std": held,
            "delta": delta, "delta_std": delta_std, "n_heldout": int(len(s_held)),
            "within": bool(abs(delta) <= max(0.005, 2 * delta_std))}


def ranking_gaps(run_dirs: Mapping[str, str | os.PathLike], baselines: Sequence[str], *, n_boot: int = 200,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """For every non-baseline model, its AUC gap to the best of ``baselines`` on the same test jets.

    Returns ``{model: {"reference", "diff", "std", "significant"}}`` where ``significant`` means
    the gap is positive and larger than twice its paired-bootstrap standard deviation.
    """
    from colliderlab import metrics

    scores = {m: read_test_scores(d) for m, d in run_dirs.items()}
    present = [b for b in baselines if b in scores]
    if not present:
        return {}
    best = max(present, key=lambda b: metrics.auc(scores[b][0], scores[b][1] == 1))
    ref, y_ref = scores[best]
    out = {}
    for m, (s, y) in scores.items():
        if m in baselines:
            continue
        if not np.array_equal(y, y_ref):
            raise ValueError(f"{m} and {best} were tested on different jets; use the same data.split_seed")
        d = metrics.paired_auc_difference(s, ref, y == 1, n=n_boot, seed=seed)
        out[m] = {"reference": best, "diff": d["diff"], "std": d["std"],
                  "significant": bool(d["diff"] > 2 * d["std"])}
    return out
