"""Observable benchmark: jets/s per core for :func:`compute_observables` on real Pythia jets.

Two samples, both 14 TeV anti-kT R = 0.8, pT 550-650 GeV, ideal detector, P = 200 slots:

* ``toptag``: top + QCD jets without MPI (the top-tagging set-up; ~64 constituents on average);
* ``dense``: QCD jets with MPI and pileup (mu = 35), the hardest P = 200 constituents kept, so
  most jets fill all 200 slots (the high-multiplicity case).

Each sample is tiled up to ``--min-jets`` so blocks have realistic sizes, then timed for the
full default set, for each observable group on its own (with what it needs) and for the hls4ml
features. One process, one BLAS/OpenMP thread: the numbers are per core. Prints a markdown table.

    python benchmarks/bench_observables.py [--jets 200] [--dense-jets 100] [--min-jets 2000]
                                           [--toptag FILE.h5] [--dense FILE.h5] [--skip-dense]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

GROUPS = {
    "N-subjettiness (tau1-4, kt clustering + one-pass)": ["tau1"],
    "ECFs e2, e3, C2, D2 (beta 1, 2)": ["c2_b1", "c2_b2"],
    "M2, N2 (beta 1, 2; triplets)": ["m2_b1"],
    "soft drop (C/A clustering + grooming)": ["mass_sd"],
    "kinematics, multiplicities, girth, pT_D, charge": ["mass", "n_charged", "girth"],
}


def load_or_generate(
    path: str | None, processes: tuple[str, ...], n_jets: int, workdir: Path, **config_kwargs
):
    """Read a colliderlab HDF5 file, or generate ``n_jets`` per process with the ideal detector."""
    from colliderlab.data.h5 import read_h5

    if path is None:
        from colliderlab.data.generate import generate_dataset
        from colliderlab.physics.processes import GenConfig

        path = str(workdir / f"{'_'.join(processes)}_{len(list(workdir.iterdir()))}.h5")
        config = GenConfig(detector="ideal", chunk_events=100, n_particles=200, **config_kwargs)
        t0 = time.perf_counter()
        generate_dataset(processes, config, n_jets, path, workers=1, progress=False)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s")
    return read_h5(path)


def tile(batch, min_jets: int):
    from colliderlab.jets import JetBatch

    reps = max(1, -(-min_jets // len(batch)))
    return JetBatch.concatenate([batch] * reps) if reps > 1 else batch


def rate(fn, n_jets: int, repeats: int) -> float:
    """Best-of-``repeats`` jets per second."""
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_jets / best


def bench_sample(name: str, batch, repeats: int) -> list[tuple[str, str, float]]:
    from colliderlab.features.observables import compute_observables, hls4ml_features

    mult = batch.multiplicity
    print(
        f"\n{name}: {len(batch)} jets, constituents mean {mult.mean():.1f}, "
        f"(E[n^3])^(1/3) {np.mean(mult.astype(float) ** 3) ** (1 / 3):.1f}, max {mult.max()}, P = {batch.n_particles}"
    )
    compute_observables(batch[:64])  # warm-up
    rows = [
        (
            name,
            "full default set (OBSERVABLE_NAMES)",
            rate(lambda: compute_observables(batch), len(batch), repeats),
        )
    ]
    for label, names in GROUPS.items():
        rows.append(
            (
                name,
                label,
                rate(
                    lambda names=names: compute_observables(batch, names=names), len(batch), repeats
                ),
            )
        )
    rows.append(
        (
            name,
            "hls4ml_features (16, mMDT-groomed)",
            rate(lambda: hls4ml_features(batch), len(batch), repeats),
        )
    )
    for _, label, r in rows:
        print(f"  {label:52s} {r:9.0f} jets/s  ({1e6 / r:7.1f} us/jet)")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jets", type=int, default=200, help="toptag-like jets per class to generate (default 200)"
    )
    parser.add_argument(
        "--dense-jets",
        type=int,
        default=100,
        help="high-multiplicity jets to generate (default 100, ~20 s)",
    )
    parser.add_argument(
        "--min-jets",
        type=int,
        default=2000,
        help="tile each sample up to this many jets (default 2000)",
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="timing repeats, best kept (default 2)"
    )
    parser.add_argument(
        "--toptag", help="colliderlab HDF5 file to use instead of generating the toptag-like sample"
    )
    parser.add_argument(
        "--dense", help="colliderlab HDF5 file to use instead of generating the MPI QCD sample"
    )
    parser.add_argument("--skip-dense", action="store_true", help="only the toptag-like sample")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        toptag = load_or_generate(
            args.toptag, ("qcd", "top"), args.jets, work, mpi=False, seed=args.seed
        )
        rows += bench_sample(
            "toptag-like (top + QCD, no MPI)", tile(toptag, args.min_jets), args.repeats
        )
        if not args.skip_dense:
            dense = load_or_generate(
                args.dense,
                ("qcd",),
                args.dense_jets,
                work,
                mpi=True,
                pileup_mu=35.0,
                seed=args.seed + 1,
            )
            rows += bench_sample(
                "dense (QCD + MPI + pileup 35, P = 200)",
                tile(dense, args.min_jets // 4),
                args.repeats,
            )

    print("\n| sample | observables | jets/s per core | us/jet |")
    print("|---|---|---:|---:|")
    for sample, label, r in rows:
        print(f"| {sample} | {label} | {r:,.0f} | {1e6 / r:,.0f} |")


if __name__ == "__main__":
    main()
