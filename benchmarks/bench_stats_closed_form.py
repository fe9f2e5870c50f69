"""pyhf against the closed forms of a one-bin counting experiment (issue #18; arXiv:1007.1727):
the Asimov discovery significance and the expected CLs upper limits (median and +-1/2 sigma band).

    python benchmarks/bench_stats_closed_form.py

Targets: significance within 1%, CLs limits within 2%. Also Cowan's Z_A with a background uncertainty
against pyhf with a Poisson-constrained background (``shapesys``).
"""

from __future__ import annotations

import numpy as np

from colliderlab.stats.closed_form import (
    asimov_significance,
    asimov_significance_uncertain,
    expected_limit_band,
)
from colliderlab.stats.fit import discovery_significance, upper_limits
from colliderlab.stats.workspace import Template, build_workspace

CASES = [(1.0, 100.0), (5.0, 100.0), (10.0, 50.0), (20.0, 20.0), (30.0, 5.0), (3.0, 1.5), (100.0, 1000.0)]


def main() -> None:
    print("| s | b | Z_A closed | Z pyhf | rel. diff | median limit closed | pyhf | worst rel. diff over the band |")
    print("|---|---|---|---|---|---|---|---|")
    worst_z = worst_l = 0.0
    for s, b in CASES:
        spec = build_workspace(Template("signal", [s]), [Template("bkg", [b])])
        z0, z1 = asimov_significance(s, b), discovery_significance(spec)
        band0, band1 = np.array(expected_limit_band(s, b)), np.array(upper_limits(spec, rtol=1e-6)["expected"])
        dz, dl = abs(z1 / z0 - 1), float(np.max(np.abs(band1 / band0 - 1)))
        worst_z, worst_l = max(worst_z, dz), max(worst_l, dl)
        print(f"| {s:g} | {b:g} | {z0:.4f} | {z1:.4f} | {dz:.1e} | {band0[2]:.4f} | {band1[2]:.4f} | {dl:.1e} |")
    print(f"\nworst: significance {worst_z:.1e} (target 1e-2), limits {worst_l:.1e} (target 2e-2)")
    print("\n| s | b | sigma_b | Z_A(s, b, sigma_b) closed | Z pyhf (shapesys) | rel. diff |")
    print("|---|---|---|---|---|---|")
    for s, b, sigma in [(10.0, 100.0, 10.0), (30.0, 50.0, 5.0), (5.0, 20.0, 8.0), (300.0, 28000.0, 2800.0)]:
        spec = build_workspace(Template("signal", [s]), [Template("bkg", [b])])
        spec["channels"][0]["samples"][1]["modifiers"] = [{"name": "mc", "type": "shapesys", "data": [sigma]}]
        z0, z1 = float(asimov_significance_uncertain(s, b, sigma)), discovery_significance(spec)
        print(f"| {s:g} | {b:g} | {sigma:g} | {z0:.4f} | {z1:.4f} | {abs(z1 / z0 - 1):.1e} |")


if __name__ == "__main__":
    main()
