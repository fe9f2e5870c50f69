"""``colliderlab calibrate`` and ``colliderlab uncertainty``: temperature scaling of a trained run on a
labelled file, and per-jet uncertainties from deep ensembles or MC dropout."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["COMMANDS", "add_calibrate", "add_uncertainty"]


def add_calibrate(sub: Any) -> None:
    """``colliderlab calibrate RUN_DIR --data FILE [--plot OUT.png]``."""
    p = sub.add_parser("calibrate", help="fit a run's temperature on a labelled file and store it with the run")
    p.add_argument("run_dir")
    p.add_argument("--data", required=True, help="labelled jet file the run was not trained on")
    p.add_argument("--plot", help="write the reliability diagrams (before and after) here")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_uncertainty(sub: Any) -> None:
    """``colliderlab uncertainty RUN_DIR [RUN_DIR ...] --data FILE --out U.h5 [--mc-dropout N]``."""
    p = sub.add_parser("uncertainty", help="per-jet mean and spread of the probabilities: a deep ensemble of "
                       "runs, or MC dropout of one run")
    p.add_argument("run_dirs", nargs="+", help="the ensemble's runs (one run with --mc-dropout)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="HDF5: mean (N, C), std (N, C), labels (N,) when known")
    p.add_argument("--mc-dropout", type=int, metavar="N", help="N dropout samples of the one run instead")
    p.add_argument("--seed", type=int, default=0, help="seed of the dropout masks")


def cmd_calibrate(a: argparse.Namespace) -> int:
    from colliderlab.train.calibrate import calibrate_on_file

    res = calibrate_on_file(a.run_dir, a.data, plot=a.plot)
    if a.json:
        print(json.dumps(res, default=float))
        return 0
    print(f"temperature {res['temperature']:.4f} on {res['n_jets']} jets (stored in {a.run_dir}/calibration.json)")
    for when in ("before", "after"):
        e = res[f"ece_{when}"]
        print(f"  {when:>6}: ECE {e['ece']:.4f} +- {e['ece_std']:.4f}, NLL {res[f'nll_{when}']:.4f}")
    return 0


def cmd_uncertainty(a: argparse.Namespace) -> int:
    import h5py

    from colliderlab.atomic import replacing
    from colliderlab.metrics import mean_ovr_auc
    from colliderlab.train.uncertainty import ensemble_proba, mc_dropout_proba

    if a.mc_dropout:
        if len(a.run_dirs) != 1:
            raise ValueError("--mc-dropout samples one run; give exactly one run directory")
        mean, std, labels = mc_dropout_proba(a.run_dirs[0], a.data, n_samples=a.mc_dropout, seed=a.seed)
    else:
        mean, std, labels = ensemble_proba(a.run_dirs, a.data)
    with replacing(a.out) as tmp, h5py.File(tmp, "w") as f:
        f["mean"], f["std"] = mean, std
        if labels is not None:
            f["labels"] = labels
        f.attrs["method"] = f"mc_dropout x {a.mc_dropout}" if a.mc_dropout else f"ensemble of {len(a.run_dirs)}"
        f.attrs["runs"] = json.dumps([str(r) for r in a.run_dirs])
    line = f"wrote {a.out}: {len(mean)} jets, mean per-jet std of the last class {std[:, -1].mean():.4f}"
    if labels is not None:
        line += f", AUC of the mean {mean_ovr_auc(mean, labels):.4f}"
    print(line)
    return 0


COMMANDS = {"calibrate": cmd_calibrate, "uncertainty": cmd_uncertainty}
