"""Calorimeter simulator benchmark: showers/s per particle and geometry, one thread.

Times :func:`colliderlab.physics.calo.simulate` (spot generation, sampling fluctuations and the
cell deposit) for every particle in every named geometry, at energies drawn log-uniformly in
1-100 GeV (the default) and at a fixed 100 GeV (the most spots per shower). One process, one
BLAS/OpenMP thread: the numbers are per core. Best of ``--repeats``. Prints a markdown table.

    python benchmarks/bench_calo_sim.py [--n 300] [--n-high 100] [--repeats 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def rate(geometry: str, particle: str, n: int, energy, repeats: int) -> float:
    """Best-of-``repeats`` showers per second."""
    from colliderlab.physics.calo import simulate

    best = np.inf
    for r in range(repeats):
        t0 = time.perf_counter()
        simulate(geometry, particle, n, energy=energy, rng=r)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300, help="showers per 1-100 GeV timing")
    parser.add_argument("--n-high", type=int, default=100, help="showers per 100 GeV timing")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from colliderlab.physics.calo import CALO_GEOMETRIES, PARTICLES, simulate

    simulate("calogan", "e-", 5, rng=0)  # warm-up
    rows = []
    for name, geom in CALO_GEOMETRIES.items():
        for particle in PARTICLES:
            low = rate(name, particle, args.n, (1.0, 100.0), args.repeats)
            high = rate(name, particle, args.n_high, 100.0, args.repeats)
            rows.append((name, geom.n_cells, particle, low, high))
            print(f"  {name:8s} {particle:6s} {low:8.0f} /s  {high:8.0f} /s", flush=True)
    print(
        "\n| geometry | cells | particle | showers/s (1-100 GeV log-uniform) | ms/shower "
        "| showers/s (100 GeV) |"
    )
    print("|---|---:|---|---:|---:|---:|")
    for name, cells, particle, low, high in rows:
        print(f"| {name} | {cells} | {particle} | {low:,.0f} | {1e3 / low:.2f} | {high:,.0f} |")


if __name__ == "__main__":
    main()
