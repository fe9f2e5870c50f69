"""Loading a run directory: the safe format (safetensors + JSON) against the old pickled one.

For each model (``--models``, preset per name, e.g. ``part:lite``) a run directory is written
without training (initial weights and one Adam step, so the old checkpoint carries optimiser
states as the trainer's did): once as the trainer writes it now
(:func:`colliderlab.train.checkpoint.save_checkpoint`), once as the old code path did (one
``checkpoint_best.pt`` holding the whole state dict, pickled with ``torch.save``). Then

* **new**: :func:`colliderlab.train.runs.load_run` on the new run directory;
* **old**: the old ``load_run`` body: ``torch.load(weights_only=False)`` of the pickled dict,
  model construction from its config, ``load_state_dict``, representation and standardizer.

Each is timed ``--repeats`` times (after one warm-up load); the table gives the medians.

    python benchmarks/bench_load_run.py [--models part:lite,particlenet:lite,part:paper] [--repeats 15]
        [--threads 1] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_FEATURES = 17  # the "full" particle features


def _write_runs(name: str, preset: str, root: Path) -> tuple[Path, Path, int]:
    """A new-format and an old-format run directory of the same model; returns them and the size
    of the old checkpoint in bytes."""
    import torch
    import yaml

    from colliderlab import __version__
    from colliderlab.models.registry import build_config, model_spec
    from colliderlab.train.checkpoint import (
        LEGACY_FORMAT,
        rng_state,
        save_checkpoint,
        save_resume_state,
    )
    from colliderlab.train.trainer import TrainerConfig

    torch.manual_seed(0)
    config = build_config(name, preset, n_features=N_FEATURES, n_classes=2)
    model = model_spec(name).cls(config)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    opt.step()
    gen = np.random.default_rng(0)
    meta = {
        "colliderlab_version": __version__, "model_name": name, "model_config": _plain(config),
        "representation": {"kind": "particles", "n_particles": 128, "features": "full"},
        "standardizer": {"x": {"mean": gen.normal(size=N_FEATURES).tolist(), "std": gen.random(N_FEATURES).tolist()}},
        "class_names": ["qcd", "top"], "task": "classification", "target": None, "quantization": None,
        "trainer_config": _plain(TrainerConfig()), "epoch": 9, "step": 1000, "best_metric": 0.2,
        "best_epoch": 10, "bad_epochs": 0, "history": [{"epoch": i + 1, "val_loss": 0.3} for i in range(10)],
    }
    resume = {"optimizer_states": [opt.state_dict()], "scheduler_states": [], "scaler_state": {}}
    new, old = root / f"{name}-{preset}-new", root / f"{name}-{preset}-old"
    for run in (new, old):
        run.mkdir()
        (run / "config.yaml").write_text(yaml.safe_dump({"name": name, "model": {"name": name, "preset": preset}}))
    weights = model.state_dict()
    for tag in ("best", "last"):
        cid = save_checkpoint(new / f"checkpoint_{tag}", weights, meta)
    save_resume_state(new / "resume_state.pt", {**resume, "rng": rng_state()}, cid)
    legacy = {**meta, "format": LEGACY_FORMAT, "model_state": weights, **resume,
              "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}}
    for tag in ("best", "last"):
        torch.save(legacy, old / f"checkpoint_{tag}.pt")
    return new, old, (old / "checkpoint_best.pt").stat().st_size


def _plain(obj):
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(obj)))


def _old_load_run(run_dir: Path):
    """The format-1 ``load_run`` body (torch models), verbatim apart from the format check."""
    import torch
    import yaml

    from colliderlab.data.dataset import Standardizer
    from colliderlab.features.representations import representation_from_dict
    from colliderlab.models.registry import model_from_config

    yaml.safe_load((run_dir / "config.yaml").read_text())
    ck = torch.load(run_dir / "checkpoint_best.pt", map_location="cpu", weights_only=False)
    model = model_from_config(ck["model_name"], ck["model_config"])
    model.load_state_dict(ck["model_state"])
    model.to("cpu").eval()
    return model, representation_from_dict(ck["representation"]), Standardizer.from_dict(ck["standardizer"])


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (imports, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="part:lite,particlenet:lite,part:paper")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json-out")
    a = ap.parse_args(argv)

    import torch

    from colliderlab.models.registry import count_params
    from colliderlab.train.runs import load_run

    torch.set_num_threads(a.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in a.models.split(","):
            name, _, preset = item.partition(":")
            new, old, old_bytes = _write_runs(name, preset or "lite", Path(tmp))
            ref = _old_load_run(old)[0]
            loaded = load_run(new).model
            for p, q in zip(ref.state_dict().values(), loaded.state_dict().values(), strict=True):
                assert torch.equal(p, q), "the two formats hold different weights"
            t_new = _median_seconds(lambda new=new: load_run(new), a.repeats)
            t_old = _median_seconds(lambda old=old: _old_load_run(old), a.repeats)
            new_bytes = sum((new / f"checkpoint_best.{s}").stat().st_size for s in ("safetensors", "json"))
            rows.append({"model": name, "preset": preset or "lite", "params": count_params(loaded),
                         "old_ms": 1e3 * t_old, "new_ms": 1e3 * t_new, "ratio_new_over_old": t_new / t_old,
                         "old_checkpoint_mb": old_bytes / 1e6, "new_checkpoint_mb": new_bytes / 1e6})
    print(f"load_run, median of {a.repeats} loads, {a.threads} thread(s), torch {torch.__version__}")
    print("| model | params | old pickled .pt (ms) | safetensors + JSON (ms) | new / old | "
          "best checkpoint old / new (MB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} {r['preset']} | {r['params']:,} | {r['old_ms']:.1f} | {r['new_ms']:.1f} | "
              f"{r['ratio_new_over_old']:.2f} | {r['old_checkpoint_mb']:.2f} / {r['new_checkpoint_mb']:.2f} |")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
