"""The event-level VAE with a density information buffer (arXiv:1901.00875) on Pythia Z -> l+ l-.

Trains on ``--n`` events (13 TeV, ISR on, FSR on, leptons e/mu), samples ``--n-eval`` events from
the latent buffer and from the unit-Gaussian prior, and reports the Wasserstein-1 distance to an
independent Pythia sample for the lepton pT, eta, phi and the dilepton mass, pT and rapidity,
beside Pythia against a third independent sample (the statistical floor).

    python benchmarks/bench_event_vae.py [--n 50000] [--epochs 40] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--n-eval", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--json-out")
    a = ap.parse_args()

    import numpy as np
    import torch

    from colliderlab.data.dataset import ArrayDataset
    from colliderlab.generative.event_vae import EventVAE, EventVAEConfig, event_features
    from colliderlab.generative.fidelity import wasserstein1
    from colliderlab.physics.events import dilepton_observables, generate_dileptons
    from colliderlab.train.trainer import Trainer, TrainerConfig

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    train = generate_dileptons(a.n, seed=1)
    t_gen = time.perf_counter() - t0
    ref, floor = generate_dileptons(a.n_eval, seed=2), generate_dileptons(a.n_eval, seed=3)
    f = event_features(train)
    ds = ArrayDataset({"x": f}, np.zeros(len(f), np.int64), ("z",))
    torch.manual_seed(0)
    model = EventVAE(EventVAEConfig())
    model.set_standardisation(torch.from_numpy(f))
    t0 = time.perf_counter()
    Trainer(model, TrainerConfig(epochs=a.epochs, batch_size=256, lr=2e-3, progress=False, patience=0), None).fit(
        ds, ds.subset(slice(0, 5000)))
    t_train = time.perf_counter() - t0
    model.fill_buffer(torch.from_numpy(f))
    keys = ("m_ll", "pt_ll", "y_ll", "pt_l1", "eta_l1", "phi_l1", "pt_l2", "eta_l2")
    ro = dilepton_observables(ref)
    rows = {}
    for name, ev in (("buffer", model.generate(a.n_eval, generator=torch.Generator().manual_seed(0))),
                     ("prior", model.generate(a.n_eval, from_buffer=False, generator=torch.Generator().manual_seed(0))),
                     ("pythia (independent)", floor)):
        o = dilepton_observables(ev)
        rows[name] = {k: wasserstein1(ro[k], o[k]) for k in keys} | {"median_m_ll": float(np.median(o["m_ll"]))}
    t0 = time.perf_counter()
    model.generate(10000)
    rate = 10000 / (time.perf_counter() - t0)
    out = {"n_train": a.n, "pythia_seconds": t_gen, "train_seconds": t_train, "events_per_second": rate, "w1": rows,
           "median_m_ll_pythia": float(np.median(ro["m_ll"]))}
    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps(out, indent=2))
    print(f"Z -> ll, {a.n} training events ({t_gen:.0f} s of Pythia), {a.epochs} epochs ({t_train:.0f} s); "
          f"W1 to {a.n_eval} independent Pythia events; generation {rate:,.0f} events/s")
    print("| sampling | " + " | ".join(keys) + " | median m_ll |")
    print("|---|" + "---|" * (len(keys) + 1))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r[k]:.3g}" for k in keys) + f" | {r['median_m_ll']:.2f} |")


if __name__ == "__main__":
    main()
