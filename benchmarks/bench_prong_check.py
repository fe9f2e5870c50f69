"""Issue #20: where a top tagger's attribution sits relative to the three decay quarks.

Reads the arrays ``colliderlab explain`` wrote (``OUT/explain.h5``: per-particle integrated gradients and
occlusion, four-momenta, mask, labels, truth decay partons) and prints, for cones of several radii around
the b, q, q' of the top jets, the share of |attribution| inside the cones against the share of pT there
(the three-prong check of ``colliderlab.explain.particles.prong_check`` at each radius).

    colliderlab explain RUN --data data/explain/toptag_n600_seed2020.h5 --n-jets 1000 --out runs/explain/NAME
    python benchmarks/bench_prong_check.py runs/explain/efn-tuned runs/explain/pfn
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np

from colliderlab.explain.particles import prong_shares

RADII = (0.05, 0.1, 0.2, 0.3, 0.4)


def shares(path: Path, key: str, radius: float) -> tuple[float, float]:
    with h5py.File(path / "explain.h5") as f:
        labels, partons = f["labels"][:], f["truth_partons"][:]
        top = (labels == labels.max()) & (partons[:, :, 0] > 0).any(1)
        a, p, ok = prong_shares(f[key][:][top], f["p4"][:][top], f["mask"][:][top], partons[top], radius)
    return float(np.nanmean(a)), float(np.nanmean(p))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("explain_dirs", nargs="+", type=Path)
    a = p.parse_args()
    print("| explain output | attribution | " + " | ".join(f"dR < {r}" for r in RADII) + " |")
    print("|---|---|" + "---|" * len(RADII))
    for d in a.explain_dirs:
        for key, name in (("particle_attribution", "IG"), ("particle_occlusion", "occlusion")):
            cells = [shares(d, key, r) for r in RADII]
            print(f"| {d.name} | {name} (pT) | " + " | ".join(f"{s:.3f} ({q:.3f})" for s, q in cells) + " |")


if __name__ == "__main__":
    main()
