"""``colliderlab calo evaluate RUN_DIR``: a trained generator against simulated showers.

For every shower of the reference file (default: the run's own data file) the generator draws
one shower with the same incident energy, angle and particle type; both sets are compared with
:mod:`colliderlab.generative.fidelity`: W1 and separation power per observable, FPD/KPD on the
high-level features, and the fixed evaluation classifier's AUC on high-level features and on
cells. Writes ``RUN_DIR/evaluation/`` (or ``out_dir``): ``fidelity.json``, ``observables.png``
(generated vs simulated histograms per observable) and ``average_showers.png``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_text

__all__ = ["generate_like", "fidelity_report", "evaluate_generator"]


def generate_like(model: Any, reference: Any, *, batch_size: int = 1000, seed: int = 0) -> Any:
    """One generated shower per reference shower (same energy, angle, particle), as CaloShowers."""
    import torch

    from colliderlab.features.calo import CaloCellsConfig, calo_labels
    from colliderlab.physics.calo import CaloShowers

    arrays = CaloCellsConfig().compute(reference)
    labels, _ = calo_labels(reference)
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(labels), batch_size):
        cond = torch.from_numpy(arrays["cond"][s : s + batch_size]).to(device)
        lab = torch.from_numpy(labels[s : s + batch_size]).to(device)
        out.append(model.sample(cond, lab).float().cpu().numpy())
    frac = np.concatenate(out)  # (N, n_cells) fractions of E_inc
    e = np.asarray(reference.incident_energy, np.float64)
    return CaloShowers(e.copy(), (frac * e[:, None]).astype(np.float32), np.asarray(reference.particle).copy(),
                       np.asarray(reference.angle).copy(), reference.geometry, reference.layer_shapes)


def fidelity_report(
    reference: Any, generated: Any, *, classifier: bool = True, cells_classifier: bool = True,
    min_energy: float | None = None, progress: bool = False,
) -> dict[str, Any]:
    """All fidelity figures of ``generated`` against ``reference`` (both CaloShowers), after
    zero-suppressing both at ``min_energy`` GeV (default :data:`~colliderlab.generative.fidelity.MIN_ENERGY`)."""
    from colliderlab.generative import fidelity as fd

    thr = fd.MIN_ENERGY if min_energy is None else float(min_energy)
    layout = fd.layout_of(reference.geometry)
    ref_cells, gen_cells = fd.zero_suppress(reference.showers, thr), fd.zero_suppress(generated.showers, thr)
    obs_r = fd.shower_observables(ref_cells, reference.incident_energy, layout)
    obs_g = fd.shower_observables(gen_cells, generated.incident_energy, layout)
    per_obs = fd.compare_observables(obs_r, obs_g)
    hl_r = fd.highlevel_inputs(obs_r, reference.incident_energy)
    hl_g = fd.highlevel_inputs(obs_g, generated.incident_energy)
    report: dict[str, Any] = {
        "n_reference": len(reference), "n_generated": len(generated), "min_energy": thr, "observables": per_obs,
        "mean_separation_power": float(np.mean([v["separation"] for v in per_obs.values()])),
    }
    report["fpd"], report["fpd_error"] = fd.fpd(hl_r, hl_g, min_samples=min(2000, len(hl_r) // 2),
                                                max_samples=min(20000, len(hl_r)))
    report["kpd"], report["kpd_spread"] = fd.kpd(hl_r, hl_g, batch_size=min(5000, len(hl_r)))
    if classifier:
        report["auc_highlevel"] = fd.classifier_auc(hl_r, hl_g, progress=progress)["auc"]
    if cells_classifier:
        report["auc_cells"] = fd.classifier_auc(
            fd.cell_inputs(ref_cells, reference.incident_energy),
            fd.cell_inputs(gen_cells, generated.incident_energy), progress=progress)["auc"]
    return report


def evaluate_generator(
    run_dir: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    *,
    n: int | None = None,
    out_dir: str | os.PathLike | None = None,
    cells_classifier: bool = True,
) -> dict[str, Any]:
    """Evaluate a generator run against simulated showers; writes and returns ``fidelity.json``."""
    from colliderlab.features.calo import read_showers
    from colliderlab.train.runs import load_run

    run = load_run(run_dir)
    if not getattr(run.model, "generative", False):
        raise ValueError(f"{run_dir} holds {run.model_name!r}, not a shower generator (calo_wgan, calo_vae, calo_flow)")
    ref_path = reference or (run.config.get("data") or {}).get("path")
    if not ref_path or not Path(ref_path).exists():
        raise FileNotFoundError(f"no reference showers: pass --reference FILE (the run's data {ref_path!r} is not there)")
    ref = read_showers(ref_path, stop=n)
    t0 = time.perf_counter()
    gen = generate_like(run.model, ref)
    gen_seconds = time.perf_counter() - t0
    report = {"run_dir": str(run_dir), "model": run.model_name, "reference": str(ref_path),
              "generation_showers_per_second": len(gen) / max(gen_seconds, 1e-9),
              **fidelity_report(ref, gen, cells_classifier=cells_classifier, progress=False)}
    out = Path(out_dir) if out_dir else Path(run_dir) / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "fidelity.json", json.dumps(report, indent=2, default=float) + "\n")
    from colliderlab.plots import plot_average_showers, plot_shower_observables

    plot_shower_observables(ref, gen, out / "observables.png")
    plot_average_showers(ref, gen, out / "average_showers.png")
    return report
