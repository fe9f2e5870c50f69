"""The top-tagging comparison: every model on one sample, K trainings each, one table.

Mirrors arXiv:1902.09914's comparison: AUC, accuracy and background rejection 1/eps_B at
eps_S = 0.3 and 0.5, with the mean, median and spread over an ensemble of K trainings that
differ only in their seed. Each (model, seed) is a normal run directory under
``OUT_DIR/<model>/seed<k>``; a finished run is reused, a killed one resumes, so the whole
benchmark can be stopped and restarted.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from colliderlab.atomic import write_json
from colliderlab.train.config import DataConfig, ExperimentConfig, ModelSection
from colliderlab.train.experiment import run_experiment
from colliderlab.train.trainer import TrainerConfig

__all__ = ["BenchmarkConfig", "DEFAULT_MODELS", "MODEL_SETUPS", "run_benchmark", "run_ensemble", "format_table", "ensure_toptag_sample"]

# Representation and trainer settings per model for the CPU ("lite") benchmark: the graph models
# see the 64 hardest constituents (the 90% quantile of the multiplicity of the toptag preset
# through the ATLAS-like card is 72-78) and fewer, smaller-batch epochs. The CNN, LSTM, EFN and
# ParT settings come from issue #20's Optuna searches (benchmarks/bench_tune.py, BENCHMARKS.md).
_PARTICLES = {"kind": "particles", "n_particles": 64}
_GRAPH_TRAINER = {"epochs": 4, "batch_size": 128, "lr": 2e-3}
MODEL_SETUPS: dict[str, dict[str, Any]] = {
    "cut_based": {"representation": {"kind": "observables"}},
    "fisher": {"representation": {"kind": "observables"}},
    "logistic": {"representation": {"kind": "observables"}},
    "efp_linear": {"representation": {"kind": "efp"}},
    "bdt": {"representation": {"kind": "observables"}},
    "dnn": {"representation": {"kind": "observables"}, "trainer": {"epochs": 30, "patience": 6}},
    "nsub_dnn": {"representation": {"kind": "nsub"}, "trainer": {"epochs": 30, "patience": 6}},
    # issue #20's search: max-normalised pixels, smaller batches at a higher rate (BENCHMARKS.md); all 8
    # epochs (no early stopping): the batch-norm statistics swing in the middle epochs and settle as the
    # cosine rate goes to zero
    "cnn": {"representation": {"kind": "image", "normalize": "max"},
            "trainer": {"epochs": 8, "batch_size": 128, "lr": 3.7e-3, "patience": 0}},
    "resnet": {"representation": {"kind": "image"}, "trainer": {"epochs": 8}},
    # issue #20's search: oriented angles, pT order, a higher rate; 14 epochs keep it within 2x the old time
    "lstm": {"representation": {"kind": "sequence", "n_particles": 64, "order": "pt", "orient": True},
             "trainer": {"epochs": 14, "lr": 4.6e-3, "patience": 0}},
    "gru": {"representation": {"kind": "sequence", "n_particles": 64}, "trainer": {"epochs": 8}},
    "recnn": {"representation": {"kind": "tree", "n_particles": 64}, "trainer": {"epochs": 6}},
    # issue #20's search: the jet-image orientation of the angles, a higher rate (BENCHMARKS.md)
    "efn": {"representation": {**_PARTICLES, "orient": True}, "trainer": {"epochs": 16, "lr": 8.3e-3}},
    "pfn": {"representation": _PARTICLES, "trainer": {"epochs": 12}},
    "interaction_net": {"representation": {"kind": "particles", "n_particles": 32}, "trainer": _GRAPH_TRAINER},
    "mpnn": {"representation": {"kind": "particles", "n_particles": 32}, "trainer": _GRAPH_TRAINER},
    "particlenet": {"representation": _PARTICLES, "trainer": _GRAPH_TRAINER},
    # issue #20's search: 32 oriented constituents, 6 epochs (0.994 in 228 s against 0.992 in 271 s)
    "part": {"representation": {"kind": "particles", "n_particles": 32, "orient": True},
             "trainer": {**_GRAPH_TRAINER, "epochs": 6, "lr": 1.3e-3}},
}
DEFAULT_MODELS = ("cut_based", "bdt", "dnn", "pfn", "particlenet", "part")
# Taggers on jet observables: the particle-level models' AUC gaps are measured against the best of them.
OBSERVABLE_BASELINES = ("cut_based", "fisher", "logistic", "efp_linear", "bdt", "dnn", "nsub_dnn")
COLUMNS = ("auc", "accuracy", "rejection_at_0.3", "rejection_at_0.5")


@dataclass(frozen=True)
class BenchmarkConfig:
    """One comparison: the sample, the models, the ensemble size and the training budget."""

    n_jets: int = 40_000  # jets in total (half top, half QCD)
    models: tuple[str, ...] = DEFAULT_MODELS
    ensemble: int = 3
    preset: str = "lite"
    detector: str = "atlas-like"
    mpi: bool = False
    data_dir: str = "data"
    out_dir: str = "runs/benchmark-toptag"
    workers: int | None = None
    epochs: int | None = None  # None: each model's own setting in MODEL_SETUPS (default 10)
    batch_size: int = 256
    lr: float = 1e-3
    patience: int = 4
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    train: bool = True  # False: only summarise the trainings already on disk
    heldout: int = 0  # jets of an independent public-format sample every tagger is also scored on (0: none)
    trainer_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def ensure_toptag_sample(cfg: BenchmarkConfig) -> Path:
    """Generate (or reuse) the toptag-preset sample the benchmark trains on."""
    from colliderlab.data.generate import generate_preset

    per_class = cfg.n_jets // 2
    mpi = "mpi" if cfg.mpi else "nompi"
    path = Path(cfg.data_dir) / f"toptag_{cfg.detector}_{mpi}_n{per_class}_seed{cfg.seed}.h5"
    if not path.exists():
        workers = cfg.workers or os.cpu_count() or 1
        generate_preset(
            "toptag", per_class, path, workers=workers, progress=cfg.progress,
            overrides={"detector": cfg.detector, "mpi": cfg.mpi, "seed": cfg.seed + 12345},
        )
    return path


def _experiment(cfg: BenchmarkConfig, model: str, k: int, sample: Path) -> ExperimentConfig:
    if model not in MODEL_SETUPS:
        raise KeyError(f"unknown benchmark model {model!r}; valid: {', '.join(MODEL_SETUPS)}")
    setup = MODEL_SETUPS[model]
    trainer = TrainerConfig(
        epochs=10, batch_size=cfg.batch_size, lr=cfg.lr, patience=cfg.patience,
        seed=cfg.seed * 100 + k, device=cfg.device, progress=cfg.progress, schedule="cosine",
    )
    trainer = replace(trainer, **setup.get("trainer", {}))
    if cfg.epochs is not None:
        trainer = replace(trainer, epochs=cfg.epochs)
    if model in cfg.trainer_overrides:
        trainer = replace(trainer, **cfg.trainer_overrides[model])
    return ExperimentConfig(
        name=f"toptag-{model}-seed{k}",
        data=DataConfig(path=str(sample), split_seed=cfg.seed),
        representation=dict(setup["representation"]),
        model=ModelSection(name=model, preset=cfg.preset, options=dict(setup.get("options", {}))),
        trainer=trainer,
    )


def run_ensemble(
    make_experiment: Callable[[int], ExperimentConfig],
    out_dir: str | os.PathLike,
    k: int,
    *,
    train: bool = True,
    progress: bool = False,
    report: bool = False,
) -> list[dict[str, Any]]:
    """K trainings ``make_experiment(0..k-1)`` into ``out_dir/seed{i}``; their ``results.json``.

    A training whose results are already on disk is read, not redone, so an interrupted ensemble
    resumes where it stopped; with ``train=False`` only finished trainings are returned.
    ``progress`` shows the trainings' progress bars, ``report`` prints one line per training.
    """
    runs = []
    for i in range(k):
        run_dir = Path(out_dir) / f"seed{i}"
        done = run_dir / "results.json"
        if done.exists():
            runs.append(json.loads(done.read_text()))
            continue
        if not train:
            continue
        cfg = make_experiment(i)
        t0 = time.perf_counter()
        res = run_experiment(cfg, run_dir, progress=progress)
        res["wall_seconds"] = time.perf_counter() - t0
        runs.append(res)
        if report:
            print(f"{cfg.name}: AUC {res['auc']:.4f}, 1/eB@0.3 {res['rejection_at_0.3']:.0f}, "
                  f"1/eB@0.5 {res['rejection_at_0.5']:.1f}, {res['train_seconds']:.0f} s", flush=True)
    return runs


def run_benchmark(cfg: BenchmarkConfig) -> dict[str, Any]:
    """Train every model ``cfg.ensemble`` times; returns ``{"models": [...], "sample": {...}}``.

    Each model row holds the ensemble median of AUC, accuracy and rejections (the published
    convention), their mean/std/min/max under ``"ensemble"``, params, mean train seconds and
    inference jets/s at batch 1024 (and batch 1).
    """
    from colliderlab import metrics

    sample = ensure_toptag_sample(cfg) if cfg.train else None
    rows = []
    first: dict[str, Any] = {}
    for model in cfg.models:
        runs = run_ensemble(
            lambda k, model=model: _experiment(cfg, model, k, sample), Path(cfg.out_dir) / model,
            cfg.ensemble, train=cfg.train, progress=cfg.progress, report=cfg.progress,
        )
        if not runs:
            continue
        first = runs[0]
        ens = metrics.ensemble_summary(runs, COLUMNS)
        row = {"model": model, "k": len(runs), **{c: ens[c]["median"] for c in COLUMNS}}
        row.update(
            params=runs[0]["params"],
            train_seconds=float(sum(r["train_seconds"] for r in runs) / len(runs)),
            inference_jets_per_second=float(sum(r["inference_jets_per_second"] for r in runs) / len(runs)),
            inference_jets_per_second_batch1=float(
                sum(r.get("inference_jets_per_second_batch1", 0.0) for r in runs) / len(runs)
            ),
            ensemble=ens,
            representation=runs[0].get("representation"),
            n_background_test=runs[0].get("n_background_test"),
        )
        rows.append(row)
    sample_info = {
        "path": str(sample) if sample else None, "n_jets": cfg.n_jets, "n_test": first.get("n_test"), "n_train": first.get("n_train"),
        "detector": cfg.detector, "mpi": cfg.mpi, "ensemble": cfg.ensemble, "preset": cfg.preset,
    }
    out = {"models": rows, "sample": sample_info}
    _checks(cfg, rows, out)
    Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
    write_json(Path(cfg.out_dir) / "summary.json", out)
    return out


def _checks(cfg: BenchmarkConfig, rows: list[dict[str, Any]], out: dict[str, Any]) -> None:
    """The ranking gaps (paired bootstrap on the test split) and, with ``cfg.heldout``, every
    tagger's AUC on an independent public-format sample beside its test AUC (seed 0 runs)."""
    from colliderlab.train import heldout as ho

    runs = {r["model"]: Path(cfg.out_dir) / r["model"] / "seed0" for r in rows}
    runs = {m: d for m, d in runs.items() if (d / "test_scores.h5").exists()}
    out["gaps"] = ho.ranking_gaps(runs, OBSERVABLE_BASELINES, seed=cfg.seed)
    if not cfg.heldout:
        return
    path = ho.ensure_public_toptag_sample(cfg.heldout, cfg.data_dir, detector=cfg.detector, mpi=cfg.mpi,
                                          seed=cfg.seed, workers=cfg.workers or os.cpu_count() or 1,
                                          progress=cfg.progress)
    out["heldout"] = {"path": str(path), "models": {m: ho.heldout_check(d, path, seed=cfg.seed) for m, d in runs.items()}}


def _counts(rejection: float, n_bkg: int | None) -> str:
    """' (k/N bkg)': how many background test jets pass the cut behind a rejection."""
    if not n_bkg or not math.isfinite(rejection) or rejection <= 0:
        return ""
    return f" ({round(n_bkg / rejection)}/{n_bkg:,})"


def format_checks(result: Mapping[str, Any]) -> str:
    """The ranking gaps and the held-out AUCs under the table (empty when there are none)."""
    lines = []
    for m, g in result.get("gaps", {}).items():
        verdict = "above" if g["significant"] else "NOT significantly above"
        lines.append(f"- {m} - {g['reference']}: AUC {g['diff']:+.4f} +- {g['std']:.4f} (paired bootstrap): {verdict}")
    held = result.get("heldout")
    if held:
        lines += ["", f"Held-out: every tagger on {held['path']} (public top-tagging layout, another Pythia seed)", "",
                  "| model | AUC test | AUC held-out | difference | within max(0.005, 2 sigma) |", "|---|---|---|---|---|"]
        for m, h in held["models"].items():
            lines.append(f"| {m} | {h['auc_test']:.4f} ({h['auc_test_std']:.4f}) | {h['auc_heldout']:.4f} "
                         f"({h['auc_heldout_std']:.4f}) | {h['delta']:+.4f} ({h['delta_std']:.4f}) | "
                         f"{'yes' if h['within'] else 'NO'} |")
    return "\n".join(lines)


def format_table(result: Mapping[str, Any]) -> str:
    """Markdown table with the sample stated above it (card, MPI, jets, K)."""
    s = result["sample"]
    lines = [
        f"Top tagging, toptag preset, detector {s['detector']}, MPI {'on' if s['mpi'] else 'off'}, "
        f"{s['n_jets']} jets ({s.get('n_train')} train / {s.get('n_test')} test), "
        f"K = {s['ensemble']} trainings per model ({s['preset']} configs); median (std) over K; rejections with "
        "(background test jets passing / background test jets): a handful of jets is counting noise",
        "",
        "| model | K | AUC | accuracy | 1/eB @ eS=0.3 | 1/eB @ eS=0.5 | params | train s | jets/s (b=1024) | jets/s (b=1) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["models"]:
        e = r["ensemble"]

        def cell(key: str, fmt: str, e: Mapping[str, Any] = e, r: Mapping[str, Any] = r) -> str:
            v, sd = r[key], e[key]["std"]
            if math.isinf(v):  # no background jet left at this efficiency: 1/eps_B > N_bkg
                n_bkg = r.get("n_background_test")
                return f"> {n_bkg:,}" if n_bkg else "inf"
            spread = math.isfinite(sd) and r.get("k", s["ensemble"]) > 1  # no spread from one training
            text = f"{v:{fmt}} ({sd:{fmt}})" if spread else f"{v:{fmt}}"
            return text + (_counts(v, r.get("n_background_test")) if key.startswith("rejection") else "")

        lines.append(
            f"| {r['model']} | {r.get('k', s['ensemble'])} | {cell('auc', '.4f')} | {cell('accuracy', '.4f')} | {cell('rejection_at_0.3', '.0f')} | "
            f"{cell('rejection_at_0.5', '.1f')} | {r['params']:,} | {r['train_seconds']:.0f} | "
            f"{r['inference_jets_per_second']:,.0f} | {r['inference_jets_per_second_batch1']:,.0f} |"
        )
    checks = format_checks(result)
    return "\n".join(lines) + ("\n\n" + checks if checks else "")


def parse_models(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"all"``, a comma list, or a sequence of names; unknown names list the valid ones."""
    if text is None:
        return DEFAULT_MODELS
    names = [n for part in ([text] if isinstance(text, str) else text) for n in part.split(",") if n]
    if names == ["all"]:
        return tuple(MODEL_SETUPS)
    bad = [n for n in names if n not in MODEL_SETUPS]
    if bad:
        raise KeyError(f"unknown model(s) {bad}; valid: {', '.join(MODEL_SETUPS)} (or 'all')")
    return tuple(names)
