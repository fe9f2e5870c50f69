"""Generated cross sections from Pythia, per chunk, combined independently of the worker count.

Pythia estimates a process's cross section from its phase-space trials (Sjostrand et al.,
arXiv:1410.3012, "Cross sections" in the manual): with ``n_try`` trials of weights sigma_i,
``n_sel`` selected and ``n_acc`` accepted events,

    sigma = (sum_i sigma_i / n_try) * (n_acc / n_sel),

with the statistical error from the spread of the sigma_i. Its ``Info::sigmaGen`` is cumulative
over the life of a Pythia instance, and colliderlab reuses one instance per worker for many
chunks. So each chunk records the *difference* of the running sums (sum sigma_i, sum sigma_i^2
and the counters) before and after its events; the sums of the chunks a sample used give its
cross section whatever worker made which chunk. Cross sections are stored in pb.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

__all__ = ["CrossSection", "ProcessCounts", "chunk_counts", "combine", "snapshot"]

_MB_TO_PB = 1e9


@dataclass(frozen=True)
class ProcessCounts:
    """Running sums of one Pythia sub-process (code): trials, selected, accepted events and the
    sums of the trial weights (pb) and their squares (pb^2)."""

    name: str
    n_tried: int
    n_selected: int
    n_accepted: int
    sum_w: float
    sum_w2: float

    def minus(self, other: ProcessCounts) -> ProcessCounts:
        return ProcessCounts(self.name, self.n_tried - other.n_tried, self.n_selected - other.n_selected,
                             self.n_accepted - other.n_accepted, self.sum_w - other.sum_w,
                             self.sum_w2 - other.sum_w2)

    def plus(self, other: ProcessCounts) -> ProcessCounts:
        return ProcessCounts(self.name, self.n_tried + other.n_tried, self.n_selected + other.n_selected,
                             self.n_accepted + other.n_accepted, self.sum_w + other.sum_w,
                             self.sum_w2 + other.sum_w2)

    def sigma(self) -> tuple[float, float]:
        """(cross section, its statistical error) in pb, as Pythia computes them."""
        if self.n_tried <= 0 or self.n_selected <= 0:
            return 0.0, 0.0
        avg = self.sum_w / self.n_tried
        frac = self.n_accepted / self.n_selected
        sigma = avg * frac
        if self.n_accepted <= 1 or avg <= 0:
            return sigma, sigma
        rel2 = max(self.sum_w2 / self.n_tried - avg**2, 0.0) / (self.n_tried * avg**2)
        return sigma, sigma * math.sqrt(rel2)


def snapshot(py) -> dict[int, ProcessCounts]:
    """The running sums of every hard sub-process of an initialised Pythia instance.

    The weight sums are recovered from ``sigmaGen``/``sigmaErr`` by inverting the formulas of
    :meth:`ProcessCounts.sigma`, so differences of two snapshots are the sums of the events in
    between.
    """
    info = py.infoPython()
    out: dict[int, ProcessCounts] = {}
    for code in info.codesHard():
        n_try, n_sel, n_acc = int(info.nTried(code)), int(info.nSelected(code)), int(info.nAccepted(code))
        sigma, err = info.sigmaGen(code) * _MB_TO_PB, info.sigmaErr(code) * _MB_TO_PB
        if n_try <= 0 or n_acc <= 0:
            out[int(code)] = ProcessCounts(str(info.nameProc(code)), n_try, n_sel, n_acc, 0.0, 0.0)
            continue
        avg = sigma * n_sel / n_acc
        rel2 = (err / sigma) ** 2 if sigma > 0 and n_acc > 1 else 0.0
        sum_w2 = n_try * avg**2 * (1.0 + n_try * rel2)
        out[int(code)] = ProcessCounts(str(info.nameProc(code)), n_try, n_sel, n_acc, avg * n_try, sum_w2)
    return out


def chunk_counts(before: Mapping[int, ProcessCounts], after: Mapping[int, ProcessCounts]) -> dict[str, dict]:
    """The sums of the events between two snapshots, per sub-process code (JSON-ready)."""
    out = {}
    for code, a in after.items():
        b = before.get(code)
        d = a.minus(b) if b is not None else a
        out[str(code)] = asdict(d)
    return out


@dataclass(frozen=True)
class CrossSection:
    """The generated cross section of a sample's process and its selection efficiency.

    Attributes:
        sigma_pb, sigma_err_pb: Pythia's cross section of the generated process (pb) and its
            statistical error.
        n_events: events generated in the chunks the sample used.
        n_selected: objects (jets or events) those chunks passed to the sample (before the
            sample's per-class cut at ``n_jets``).
        filter_efficiency: n_selected / n_events: the generator-level filter times the
            trigger / offline selection (jet window, truth match, event selection). For jet
            samples it is jets per event and may exceed 1.
        per_process: {code: {name, sigma_pb, sigma_err_pb, n_accepted}} per Pythia sub-process.
    """

    sigma_pb: float
    sigma_err_pb: float
    n_events: int
    n_selected: int
    filter_efficiency: float
    per_process: dict[str, dict]

    @property
    def effective_pb(self) -> float:
        """sigma x efficiency: the cross section of what the sample holds, in pb."""
        return self.sigma_pb * self.filter_efficiency

    def expected(self, lumi_fb: float) -> float:
        """Expected selected objects at an integrated luminosity ``lumi_fb`` (fb^-1)."""
        return self.effective_pb * 1000.0 * lumi_fb

    def to_dict(self) -> dict:
        return {**asdict(self), "effective_pb": self.effective_pb}

    @classmethod
    def from_dict(cls, d: Mapping) -> CrossSection:
        return cls(float(d["sigma_pb"]), float(d["sigma_err_pb"]), int(d["n_events"]), int(d["n_selected"]),
                   float(d["filter_efficiency"]), {str(k): dict(v) for k, v in dict(d["per_process"]).items()})


def combine(chunks: Iterable[Mapping[str, Mapping]], n_events: int, n_selected: int) -> CrossSection:
    """The cross section of a set of chunks' :func:`chunk_counts` (summed per sub-process)."""
    total: dict[str, ProcessCounts] = {}
    for chunk in chunks:
        for code, d in chunk.items():
            c = ProcessCounts(**d)
            total[code] = total[code].plus(c) if code in total else c
    per = {}
    sigma = var = 0.0
    for code, c in sorted(total.items()):
        s, e = c.sigma()
        per[code] = {"name": c.name, "sigma_pb": s, "sigma_err_pb": e, "n_accepted": c.n_accepted}
        sigma += s
        var += e**2
    eff = n_selected / n_events if n_events else 0.0
    return CrossSection(sigma, math.sqrt(var), int(n_events), int(n_selected), eff, per)
