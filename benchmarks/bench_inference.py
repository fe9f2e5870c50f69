"""Inference throughput of every model: PyTorch eager, torch.compile, torch.export, onnxruntime.

Each model (``--preset``, default lite) is built on real jets of a toptag sample in the
representation the top-tagging benchmark gives it (``colliderlab.train.benchmark.MODEL_SETUPS``),
then timed at batch 1 and batch 1024 (jets per second; median of ``--repeats`` timings of at
least ``--seconds`` each, after a warm-up). Threads are fixed with ``torch.set_num_threads`` and
onnxruntime's ``intra_op_num_threads``. Weights are untrained: speed does not depend on them.

    python benchmarks/bench_inference.py [--models dnn,pfn] [--backends eager,compile,export,onnx]
        [--batches 1,1024] [--threads 2] [--preset lite] [--data FILE] [--json-out FILE]

The device is CUDA when available (onnxruntime then uses its CUDA provider if installed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# On a shared machine OpenMP's busy-waiting makes torch's parallel regions wait for descheduled
# sibling threads (10x slower small matmuls); set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

BACKENDS = ("eager", "compile", "export", "onnx")


def _sample(path: str | None) -> str:
    if path:
        return path
    for cand in ("data/toptag_atlas-like_nompi_n5000_seed0.h5", "data/toptag_atlas-like_nompi_n20000_seed0.h5"):
        if Path(cand).exists():
            return cand
    from colliderlab.train.benchmark import BenchmarkConfig, ensure_toptag_sample

    return str(ensure_toptag_sample(BenchmarkConfig(n_jets=4000, workers=2)))


def _inputs(name: str, preset: str, path: str, n_jets: int):
    import torch

    from colliderlab.data.dataset import Standardizer
    from colliderlab.export import onnx as ox
    from colliderlab.features.build import build_dataset
    from colliderlab.features.representations import representation_from_dict
    from colliderlab.models.registry import build_config, model_spec
    from colliderlab.train.benchmark import MODEL_SETUPS

    spec = model_spec(name)
    rep = MODEL_SETUPS.get(name, {}).get("representation") or {"kind": spec.representations[0]}
    ds, r = build_dataset(path, representation_from_dict(rep), stop=n_jets, cache_dir=Path(path).parent / ".cache")
    arrays = Standardizer.fit(ds.arrays, r.standardize).apply(ds.arrays)
    torch.manual_seed(0)
    model = spec.cls(build_config(name, preset, **r.dims(arrays), n_classes=2)).eval()
    xspec = ox.export_spec(model, r.kind, arrays) if not getattr(model, "export_unsupported", None) else None
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    return model, xspec, tensors, r.kind


def _tile(tensors, names, batch):
    """The first ``batch`` jets (repeated if the sample is smaller), in ``names`` order."""

    out = []
    for k in names:
        t = tensors[k]
        reps = -(-batch // len(t))
        out.append((t.repeat(reps, *([1] * (t.dim() - 1))) if reps > 1 else t)[:batch].contiguous())
    return out


def _time(fn, seconds: float, repeats: int) -> float:
    fn()  # warm-up (and compilation)
    times = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            if time.perf_counter() - t0 >= seconds:
                break
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def bench_model(name: str, a: argparse.Namespace, path: str, tmp: Path) -> dict:
    import torch

    from colliderlab.export import onnx as ox
    from colliderlab.models.registry import count_params

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, xspec, tensors, kind = _inputs(name, a.preset, path, 1024)
    names = list(model.input_names)
    row: dict = {"model": name, "params": count_params(model), "representation": kind}
    programs = {}
    for backend in a.backends:
        try:
            if backend == "eager":
                programs[backend] = model.to(device)
            elif backend == "compile":
                programs[backend] = torch.compile(model.to(device), dynamic=False)
            elif backend == "export":
                if xspec is None:
                    raise ox.ExportError(model.export_unsupported)
                ex = ox.example_inputs({k: v.numpy() for k, v in tensors.items()}, xspec, 16)
                p = ox.export_program(model.cpu(), ex, tmp / f"{name}.pt2", xspec)
                programs[backend] = ox.load_program(p).to(device)
            elif backend == "onnx":
                if xspec is None:
                    raise ox.ExportError(model.export_unsupported)
                ex = ox.example_inputs({k: v.numpy() for k, v in tensors.items()}, xspec, 16)
                p = ox.export_onnx(model.cpu(), ex, tmp / f"{name}.onnx", xspec)
                programs[backend] = ox.onnx_session(p, threads=a.threads)
        except Exception as err:  # record, keep going with the other backends
            row[f"{backend}_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    for batch in a.batches:
        inputs = _tile(tensors, names, batch)
        for backend, prog in programs.items():
            if backend == "onnx":
                feed = {k: v.numpy() for k, v in zip(names, inputs, strict=True)}
                fn = lambda prog=prog, feed=feed: prog.run(None, feed)  # noqa: E731
            else:
                dev_inputs = [t.to(device) for t in inputs]
                if backend != "eager":
                    model.to(device)

                def fn(prog=prog, dev_inputs=dev_inputs):
                    with torch.no_grad():
                        out = prog(*dev_inputs)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    return out
            try:
                t0 = time.perf_counter()
                sec = _time(fn, a.seconds, a.repeats)
                row[f"{backend}_b{batch}"] = batch / sec
                if backend == "compile" and batch == a.batches[0]:
                    row["compile_seconds"] = time.perf_counter() - t0 - a.seconds * a.repeats
            except Exception as err:
                row[f"{backend}_b{batch}_error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="all")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--batches", default="1,1024")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--preset", default="lite")
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data")
    ap.add_argument("--json-out")
    a = ap.parse_args()
    a.backends = [b for b in a.backends.split(",") if b]
    bad = [b for b in a.backends if b not in BACKENDS]
    if bad:
        sys.exit(f"unknown backend(s) {bad}; valid: {', '.join(BACKENDS)}")
    a.batches = [int(b) for b in a.batches.split(",")]

    import torch

    from colliderlab.models.registry import list_models, model_spec

    torch.set_num_threads(a.threads)
    warnings.filterwarnings("ignore")
    models = [n for n in list_models(generative=False) if "calo" not in model_spec(n).representations] if a.models == "all" else a.models.split(",")
    path = _sample(a.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            t0 = time.time()
            rows.append(bench_model(name, a, path, Path(tmp)))
            print(f"# {name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {a.threads} threads"
    header = {"device": device, "preset": a.preset, "sample": path, "torch": torch.__version__,
              "load_average": os.getloadavg()[0]}
    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps({"header": header, "models": rows}, indent=2))
    cols = [f"{b}_b{n}" for n in a.batches for b in a.backends]
    print(f"Inference jets/s, {device}, {a.preset} configs, real toptag jets ({path}); "
          f"load average {header['load_average']:.2f}")
    print("| model | params | " + " | ".join(c.replace("_b", " b=") for c in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:,.0f}" if c in r else ("n/a" if f"{c.split('_b')[0]}_error" in r else "err") for c in cols]
        print(f"| {r['model']} | {r['params']:,} | " + " | ".join(cells) + " |")
    for r in rows:
        for k, v in r.items():
            if k.endswith("_error"):
                print(f"- {r['model']} {k[:-6]}: {v}")


if __name__ == "__main__":
    main()
