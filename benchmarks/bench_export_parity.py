"""ONNX and torch.export parity of every trained tagger on real jets.

Takes seed 0 of every torch model the top-tagging benchmark trained (``runs/benchmark-toptag``),
exports it with ``colliderlab.export.api.export_run`` to ONNX and to a ``torch.export`` program,
and compares with PyTorch on the first ``--n-jets`` jets of an independent toptag file at batch
sizes 1, 7 and 64 and, for particle clouds, the trained particle count and 32 slots. The
target is a maximum absolute difference of the softmax scores below 1e-4.

    python benchmarks/bench_export_parity.py [--runs runs/benchmark-toptag] [--data FILE]
        [--n-jets 256] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/benchmark-toptag")
    ap.add_argument("--data", default="data/toptag_atlas-like_nompi_n5000_seed0.h5")
    ap.add_argument("--n-jets", type=int, default=256)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")

    from colliderlab.export.api import export_run
    from colliderlab.export.onnx import ExportError

    rows = []
    for run in sorted(Path(a.runs).glob("*/seed0")):
        if not (run / "checkpoint_best.json").exists():
            continue  # baselines: nothing for ONNX (the BDT goes through conifer)
        row = {"model": run.parent.name}
        for fmt in ("onnx", "torch-export"):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                try:
                    res = export_run(run, fmt, out_dir=tmp, data=a.data, n_jets=a.n_jets)
                    row[fmt] = res["parity"]["max_abs_diff_scores"]
                    row[f"{fmt}_logits"] = res["parity"]["max_abs_diff_logits"]
                    row[f"{fmt}_cases"] = len(res["parity"]["cases"])
                    row[f"{fmt}_static_particles"] = "static_particles" in res
                except ExportError as err:
                    row[fmt] = None
                    row[f"{fmt}_error"] = str(err)[:200]
                row[f"{fmt}_seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"# {row['model']}: {row}", flush=True)
    if a.json_out:
        from colliderlab.atomic import write_text

        write_text(a.json_out, json.dumps(rows, indent=2))
    print(f"Export parity on {a.n_jets} real jets of {a.data} (max |score diff| over batch sizes 1/7/64 "
          "and particle counts; target < 1e-4)")
    print("| model | ONNX scores | ONNX logits | torch.export scores | cases | export s (ONNX) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        def f(v):
            return "not exportable" if v is None else f"{v:.1e}"
        print(f"| {r['model']} | {f(r['onnx'])} | {f(r.get('onnx_logits'))} | {f(r['torch-export'])}"
              f"{' (fixed N)' if r.get('torch-export_static_particles') else ''} | {r.get('onnx_cases', '-')} | "
              f"{r['onnx_seconds']:.1f} |")


if __name__ == "__main__":
    main()
