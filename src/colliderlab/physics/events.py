"""Event-level samples straight from Pythia 8: Drell-Yan Z -> l+ l- dilepton events.

For the event-level generator of issue #5 (arXiv:1901.00875 trains on such events): Pythia's
``WeakSingleBoson:ffbar2gmZ`` with the Z only (``WeakZ0:gmZmode = 2``) decaying to electrons and
muons, initial-state radiation on (the Z gets transverse momentum), MPI and hadronisation off
(only the leptons are kept, so neither matters and generation is fast). The two leptons are the
hardest final-state same-flavour opposite-charge pair; final-state photon radiation stays on, so
the dilepton mass has its radiative tail below the peak.

    leptons = generate_dileptons(10_000, seed=1)        # (N, 2, 4): (E, px, py, pz), leading first
"""

from __future__ import annotations

import numpy as np

from colliderlab import kinematics as kin

__all__ = ["DILEPTON_SETTINGS", "generate_dileptons", "dilepton_observables"]

DILEPTON_SETTINGS = (
    "Beams:eCM = 13000.",
    "WeakSingleBoson:ffbar2gmZ = on",
    "WeakZ0:gmZmode = 2",
    "23:onMode = off",
    "23:onIfAny = 11 13",
    "PartonLevel:MPI = off",
    "HadronLevel:all = off",
)


def generate_dileptons(n: int, *, seed: int = 0, chunk: int = 2000, progress: bool = False) -> np.ndarray:
    """``n`` Z -> l+ l- events: the two leptons' (E, px, py, pz) in GeV, leading (higher pT) first.

    Deterministic in ``seed`` (chunk ``i`` uses a seed derived from (seed, i)). The only Python
    loop is over chunks; leptons are selected with awkward/numpy over whole batches.

    Returns:
        (n, 2, 4) float64.
    """
    import awkward as ak

    from colliderlab.physics.generator import _pythia, chunk_seed
    from colliderlab.progress import progress as progress_bar

    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    py = _pythia(DILEPTON_SETTINGS)
    out = []
    have = 0
    n_chunks = 0
    bar = progress_bar(total=n, desc="Z -> ll events", unit="ev", enabled=progress)
    while have < n:
        py.rndm.init(chunk_seed(seed, "dilepton", n_chunks))
        prt = py.nextBatch(chunk).prt
        n_chunks += 1
        a = abs(prt.id)
        lep = prt[(prt.status > 0) & ((a == 11) | (a == 13))]
        pt = np.hypot(lep.p.px, lep.p.py)
        lep = lep[ak.argsort(pt, axis=1, ascending=False)]
        two = lep[ak.num(lep) >= 2][:, :2]
        ok = ak.to_numpy(two.id[:, 0] == -two.id[:, 1])  # same flavour, opposite charge
        two = two[ok]
        p4 = np.stack([ak.to_numpy(getattr(two.p, c)) for c in ("e", "px", "py", "pz")], axis=-1)  # (M, 2, 4)
        out.append(p4)
        have += len(p4)
        bar.update(len(p4))
    bar.close()
    return np.concatenate(out)[:n].astype(np.float64)


def dilepton_observables(leptons: np.ndarray) -> dict[str, np.ndarray]:
    """Lepton pT, eta, phi (both), the dilepton mass, pT and rapidity. leptons: (N, 2, 4) -> (N,) each."""
    x = np.asarray(leptons, np.float64)
    if x.ndim != 3 or x.shape[1:] != (2, 4):
        raise ValueError(f"leptons must have shape (N, 2, 4), got {x.shape}")
    _, px, py, _ = np.moveaxis(x, -1, 0)  # (N, 2) each
    pt, eta = kin.pt(x), kin.eta(x)  # (N, 2)
    out = {}
    for i, name in enumerate(("l1", "l2")):
        out[f"pt_{name}"] = pt[:, i]
        out[f"eta_{name}"] = eta[:, i]
        # atan2 in [-pi, pi], not kin.phi: its wrap into [-pi, pi) moves values by an ulp.
        out[f"phi_{name}"] = np.arctan2(py[:, i], px[:, i])
    s = x.sum(1)  # (N, 4)
    # Mass clipped at 0 and the simple rapidity formula, not kin.mass/kin.rapidity (FastJet's
    # signed mass and stable rapidity differ in the last bits): the observables stay bit-identical.
    out["m_ll"] = np.sqrt(np.maximum(s[:, 0] ** 2 - (s[:, 1:] ** 2).sum(1), 0.0))
    out["pt_ll"] = kin.pt(s)
    out["y_ll"] = 0.5 * np.log(np.maximum(s[:, 0] + s[:, 3], 1e-12) / np.maximum(s[:, 0] - s[:, 3], 1e-12))
    return out
