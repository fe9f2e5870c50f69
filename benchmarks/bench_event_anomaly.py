"""Event-level anomaly detection (arXiv:1811.10276): AE and VAE trained on the Standard-Model
cocktail, against a supervised BDT per benchmark signal.

Reads ``data/events_<process>_n<N>_seed<S>.h5`` (``colliderlab.data.event_io``; the largest N per
process), mixes W -> l nu, Z -> l l, ttbar and QCD with :func:`~colliderlab.data.event_io.cocktail`
(fractions = measured sigma x filter x trigger efficiency), splits the cocktail into training and
test halves, and runs :func:`colliderlab.anomaly.event_search.run_event_anomaly` on the signals
A -> 4 l, LQ -> b tau, h0 -> tau tau, h+- -> tau nu. Reports per signal the AUC and the signal
efficiency at Standard-Model acceptances 1e-2, 1e-3 and 1e-4, each only when the Standard-Model
test sample has at least 10 / acceptance events, beside the BDT's; writes the metrics JSON, a
markdown table and the run directory (plots, scores, checkpoints, trigger path).

    nice -n 5 python benchmarks/bench_event_anomaly.py [--data-dir data] [--seed 0] [--epochs 30]
        [--out runs/event_anomaly] [--json-out FILE] [--md-out FILE] [--no-trigger]
        [--sm w_lnu,z_ll,ttbar,qcd] [--test-fraction 0.5] [--inputs features|objects]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SM = ("w_lnu", "z_ll", "ttbar", "qcd")
SIGNALS = ("a_4l", "lq_btau", "h0_tautau", "hpm_taunu")
# non-negative, heavy-tailed features taken as log(1 + x) (the BDT is blind to it)
LOG_FEATURES = ("lep_pt", "ht", "m_jets", "mt", "m_mu", "pt_mu", "m_ele", "pt_ele")


def find_files(data_dir: Path, processes: tuple[str, ...], seed: int | None) -> dict[str, Path]:
    """Per process the file ``events_<process>_n<N>_seed<S>.h5`` with the largest N (any seed when
    ``seed`` is None); processes without a finished file are left out."""
    found: dict[str, tuple[int, Path]] = {}
    pat = re.compile(r"^events_(?P<proc>.+)_n(?P<n>\d+)_seed(?P<seed>\d+)\.h5$")
    for p in sorted(data_dir.glob("events_*.h5")):
        m = pat.match(p.name)
        if not m or m["proc"] not in processes or (seed is not None and int(m["seed"]) != seed):
            continue
        n = int(m["n"])
        if m["proc"] not in found or n > found[m["proc"]][0]:
            found[m["proc"]] = (n, p)
    return {k: v[1] for k, v in found.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--seed", type=int, default=None, help="file seed (default: any)")
    ap.add_argument("--sm", default=",".join(SM),
                    help="comma-separated Standard-Model processes of the cocktail (default: all four)")
    ap.add_argument("--n-events", type=int, default=None, help="cocktail size (default: the most the files allow)")
    ap.add_argument("--test-fraction", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--preset", default="paper", help="anomaly_ae / anomaly_vae preset")
    ap.add_argument("--beta", type=float, default=1.0, help="VAE KL weight")
    ap.add_argument("--inputs", choices=("features", "objects"), default="features",
                    help="the 23 high-level features or the 57 ADC2021 object numbers (pT, eta, phi of 19 slots)")
    ap.add_argument("--no-log", action="store_true", help="do not take log(1 + x) of the heavy-tailed features")
    ap.add_argument("--no-trigger", action="store_true", help="skip ONNX export and hls4ml emulation")
    ap.add_argument("--n-trigger-events", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/event_anomaly")
    ap.add_argument("--json-out")
    ap.add_argument("--md-out")
    a = ap.parse_args()

    import torch

    from colliderlab.anomaly.event_search import (
        EventAnomalyConfig,
        efficiency_table_markdown,
        run_event_anomaly,
    )
    from colliderlab.data.event_io import cocktail, read_events
    from colliderlab.models.bdt import BDTConfig
    from colliderlab.train.trainer import TrainerConfig

    torch.set_num_threads(a.threads)
    data_dir = Path(a.data_dir)
    sm = tuple(p.strip() for p in a.sm.split(",") if p.strip())
    unknown = [p for p in sm if p not in SM]
    if unknown:
        raise SystemExit(f"unknown Standard-Model process(es) {unknown}; valid: {', '.join(SM)}")
    sm_files = find_files(data_dir, sm, a.seed)
    sig_files = find_files(data_dir, SIGNALS, a.seed)
    missing = [p for p in sm if p not in sm_files]
    if missing or not sig_files:
        raise SystemExit(f"missing event files in {data_dir}: SM {missing or 'none'}, signals found "
                         f"{sorted(sig_files) or 'none'} (expected events_<process>_n<N>_seed<S>.h5)")
    t0 = time.perf_counter()
    mix = cocktail({p: sm_files[p] for p in sm}, a.n_events, seed=0)
    if a.inputs == "features":
        signals = {p: read_events(f)["features"] for p, f in sig_files.items()}
        x, feature_names = mix["features"], tuple(mix["feature_names"])
        log_features = tuple(f for f in LOG_FEATURES if f in feature_names)
    else:
        from colliderlab.data.adc2021 import INPUT_NAMES, particle_inputs, to_particles

        signals = {p: particle_inputs(to_particles(read_events(f))) for p, f in sig_files.items()}
        x, feature_names = particle_inputs(mix["particles"]), INPUT_NAMES
        log_features = tuple(f for f in INPUT_NAMES if f.endswith("_pt"))
    t_read = time.perf_counter() - t0
    proc = mix["process"]
    n_test = int(round(a.test_fraction * len(x)))
    # the cocktail is already shuffled: the last n_test events are the test sample
    x_train, x_test, proc_test = x[:-n_test], x[-n_test:], proc[-n_test:]
    print(f"SM cocktail: {len(x)} events ({len(x_train)} train, {len(x_test)} test), fractions "
          + ", ".join(f"{k} {v:.4f}" for k, v in mix["fractions"].items())
          + "; signals: " + ", ".join(f"{k} {len(v)}" for k, v in signals.items()), flush=True)

    config = EventAnomalyConfig(
        ae_preset=a.preset, vae_preset=a.preset, vae={"beta": a.beta},
        trainer=TrainerConfig(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, schedule="cosine", patience=0,
                              progress=False, num_threads=a.threads),
        acceptances=(1e-2, 1e-3, 1e-4),
        bdt=BDTConfig(n_threads=a.threads),
        trigger=not a.no_trigger, n_trigger_events=a.n_trigger_events,
        log_features=() if a.no_log else log_features,
    )
    metrics = run_event_anomaly(x_train, x_test, signals, config, a.out, feature_names=feature_names,
                                test_sm_process=proc_test, process_names=mix["process_names"])
    metrics["data"] = {
        "inputs": a.inputs, "sm_processes": list(sm),
        "sm_files": {k: str(v) for k, v in sm_files.items()},
        "signal_files": {k: str(v) for k, v in sig_files.items()},
        "cocktail_fractions": mix["fractions"], "cocktail_counts": mix["counts"],
        "cocktail_weights_pb": mix["weights_pb"], "seconds_read": t_read,
    }
    table = efficiency_table_markdown(metrics)
    print(table)
    print(json.dumps({"pvalue_uniformity": metrics["pvalue_uniformity"],
                      "trigger": {k: (v.get("parity") if k.startswith("onnx") else
                                      {kk: v[kk] for kk in ("sm", "signals") if kk in v} or v)
                                  for k, v in metrics.get("trigger", {}).items()},
                      "seconds": metrics["seconds"]}, indent=1, default=str))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    if a.md_out:
        Path(a.md_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.md_out).write_text(table)


if __name__ == "__main__":
    main()
