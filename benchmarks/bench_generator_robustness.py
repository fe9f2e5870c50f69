"""Robustness of a top tagger to the parton shower (issue #19): a PFN trained with an adversary that
guesses whether a jet came from Pythia's default shower or Vincia (arXiv:1611.01046's pivot, with the
generator as the nuisance), against the same PFN trained on the same jets without it.

    python benchmarks/bench_generator_robustness.py [--nominal-train data/decor/toptag_n60000_seed19.h5]
        [--nominal data/variations/toptag_nominal_n10000_seed777.h5]
        [--vincia data/variations/toptag_vincia_n10000_seed777.h5] [--lambdas 0 3 10]

The variation samples are those of ``benchmarks/bench_stats_systematics.py`` (one seed for both
showers, so the hard processes are shared and the shifts are less noisy). Vincia jets are split in
halves by index parity: even jets join the training (domain 1, weighted up so both showers weigh the
same), odd jets and the odd jets of the nominal sample (same seed) measure the shift. The cut keeps
eS = 0.5 on the nominal evaluation jets; eS and eB of the same cut on Vincia give the shift, with
binomial errors.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

REP = {"kind": "particles", "n_particles": 64}


def _dataset(path: Path, rep: object, index: np.ndarray | None, domain: int) -> object:
    from colliderlab.features.build import build_dataset
    from colliderlab.train.decorrelation import attach_variable

    ds, _ = build_dataset(path, rep)
    if index is not None:
        ds = ds.subset(index)
    return attach_variable(ds, np.full(len(ds), domain, np.int64), "domain")


def _concat(a: object, b: object, wb: float) -> object:
    from colliderlab.data.dataset import ArrayDataset

    arrays = {k: np.concatenate([a.arrays[k], b.arrays[k]]) for k in a.arrays}
    w = np.concatenate([np.ones(len(a), np.float32), np.full(len(b), wb, np.float32)])
    return ArrayDataset(arrays, np.concatenate([a.labels, b.labels]), a.class_names, w)


def train_tagger(train: object, val: object, rep: object, lam: float, epochs: int, seed: int = 0) -> object:
    import torch

    from colliderlab.models.registry import build_config, resolve_model
    from colliderlab.train.adversarial import AdversarialTagger, AdversaryConfig
    from colliderlab.train.trainer import Trainer, TrainerConfig

    torch.manual_seed(seed)
    dims = {k: v for k, v in rep.dims(train.subset(slice(0, 64)).arrays).items() if k == "n_features"}
    model = resolve_model("pfn").cls(build_config("pfn", "lite", n_classes=2, **dims))
    adv = AdversaryConfig(lam=lam, mode="classes", n_bins=2, background_only=False, adv_steps=3, lr=5e-3,
                          warmup_steps=100)
    tagger = AdversarialTagger(model, "domain", adv)
    cfg = TrainerConfig(epochs=epochs, batch_size=1024, lr=2e-3, schedule="cosine", patience=0, seed=seed,
                        progress=False, num_threads=2)
    trainer = Trainer(tagger, cfg)
    trainer.adv_history = [r.get("train_adv_loss") for r in trainer.fit(train, val).history]  # the record
    return trainer


def shifts(trainer: object, nominal: object, vincia: object) -> dict[str, float]:
    from colliderlab.metrics import auc, softmax

    sn, sv = softmax(trainer.predict(nominal))[:, 1], softmax(trainer.predict(vincia))[:, 1]
    cut = np.quantile(sn[nominal.labels == 1], 0.5)
    row = {"auc_nominal": auc(sn, nominal.labels), "auc_vincia": auc(sv, vincia.labels)}
    for name, s, ds in (("nominal", sn, nominal), ("vincia", sv, vincia)):
        for cls, tag in ((1, "eff_s"), (0, "eff_b")):
            k = s[ds.labels == cls] >= cut
            row[f"{tag}_{name}"] = float(k.mean())
            row[f"{tag}_{name}_err"] = float(np.sqrt(k.mean() * (1 - k.mean()) / len(k)))
    for tag in ("eff_s", "eff_b"):
        a, b = row[f"{tag}_nominal"], row[f"{tag}_vincia"]
        row[f"{tag}_shift"] = b / a - 1
        row[f"{tag}_shift_err"] = abs(b / a) * np.hypot(row[f"{tag}_nominal_err"] / a, row[f"{tag}_vincia_err"] / b)
    row["rejection_nominal"] = 1 / max(row["eff_b_nominal"], 1e-12)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nominal-train", default="data/decor/toptag_n60000_seed19.h5")
    ap.add_argument("--nominal", default="data/variations/toptag_nominal_n10000_seed777.h5")
    ap.add_argument("--vincia", default="data/variations/toptag_vincia_n10000_seed777.h5")
    ap.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 3.0, 10.0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", default="runs/decor/generator_robustness.json")
    args = ap.parse_args()
    import torch

    from colliderlab.data.dataset import Standardizer, split_indices
    from colliderlab.features.representations import representation_from_dict

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    from colliderlab.features.build import build_dataset
    from colliderlab.train.decorrelation import attach_variable

    nom_all, rep = build_dataset(args.nominal_train, representation_from_dict(REP))  # resolves the features
    nom_all = attach_variable(nom_all, np.zeros(len(nom_all), np.int64), "domain")
    tr, va, _ = split_indices(len(nom_all), 0.15, 0.15, 0)  # the split of bench_decorrelation's runs
    n_v = 20_000
    vin_train = _dataset(Path(args.vincia), rep, np.arange(0, n_v, 2), 1)
    vin_eval = _dataset(Path(args.vincia), rep, np.arange(1, n_v, 2), 1)
    nom_eval = _dataset(Path(args.nominal), rep, np.arange(1, n_v, 2), 0)
    wb = len(tr) / len(vin_train)
    train = _concat(nom_all.subset(tr), vin_train, wb)
    val = nom_all.subset(va)
    std = Standardizer.fit(train.arrays, rep.standardize)
    train, val, nom_eval, vin_eval = (
        type(d)(std.apply(d.arrays), d.labels, d.class_names, d.weights) for d in (train, val, nom_eval, vin_eval))
    print(f"stage: datasets ({len(train)} training jets, {len(vin_train)} of them Vincia, weight {wb:.1f}) "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = {}
    for lam in args.lambdas:
        t1 = time.perf_counter()
        trainer = train_tagger(train, val, rep, lam, args.epochs)
        rows[f"lambda_{lam:g}"] = r = shifts(trainer, nom_eval, vin_eval)
        r["train_adv_loss_first_last"] = [trainer.adv_history[0], trainer.adv_history[-1]]  # ln 2 = 0.693: no clue
        print(f"lambda {lam:g}: trained in {time.perf_counter() - t1:.0f} s; " + json.dumps(
            {k: np.round(v, 4).tolist() for k, v in r.items()}), flush=True)
    print("| tagger | AUC nominal | AUC Vincia | 1/eB nominal | eS shift | eB shift |")
    print("|---|---|---|---|---|---|")
    for k, r in rows.items():
        print(f"| {k} | {r['auc_nominal']:.4f} | {r['auc_vincia']:.4f} | {r['rejection_nominal']:.1f} | "
              f"{100 * r['eff_s_shift']:+.1f} ± {100 * r['eff_s_shift_err']:.1f}% | "
              f"{100 * r['eff_b_shift']:+.1f} ± {100 * r['eff_b_shift_err']:.1f}% |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
