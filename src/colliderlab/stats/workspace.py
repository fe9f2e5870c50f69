"""Signal and background templates to a HistFactory workspace (the JSON that pyhf and cabinetry read).

A :class:`Template` is one sample's histogram in one channel: counts per bin (expected events at the
stated luminosity), their MC statistical errors (sqrt of the sum of squared weights), and its
systematics: a normalisation uncertainty (``normsys``, e.g. from the cross-section error) and shape
variations (``histosys``, e.g. Vincia against the default shower). :func:`build_workspace` writes
the HistFactory specification (Cranmer et al., CERN-OPEN-2012-016; pyhf, arXiv:2109.04981 and
JOSS 6 (2021) 2823): the signal scaled by the parameter of interest ``mu`` (``normfactor``), the
MC statistical errors of every sample of a channel as one ``staterror`` per bin (Barlow-Beeston
lite), the normalisation and shape systematics by name (the same name on two samples is one
correlated nuisance parameter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["POI", "Template", "build_workspace"]

#: The parameter of interest: the signal strength.
POI = "mu"


@dataclass
class Template:
    """One sample's histogram in one channel.

    Attributes:
        name: sample name (``"signal"``, ``"qcd"``, ...).
        counts: (B,) expected events per bin.
        stat_errors: (B,) MC statistical error per bin (None: no ``staterror`` for this sample).
        norm: name -> relative normalisation uncertainty (e.g. ``{"xsec_qcd": 0.1}``: +-10%), or
            name -> (down, up) relative shifts.
        shapes: name -> ((B,) up counts, (B,) down counts) for shape systematics.
    """

    name: str
    counts: np.ndarray
    stat_errors: np.ndarray | None = None
    norm: Mapping[str, float | tuple[float, float]] = field(default_factory=dict)
    shapes: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, np.float64)
        if self.counts.ndim != 1 or not len(self.counts):
            raise ValueError(f"template {self.name!r}: counts must have shape (B,), got {self.counts.shape}")
        bad = np.flatnonzero(~np.isfinite(self.counts) | (self.counts < 0))
        if len(bad):
            raise ValueError(f"template {self.name!r}: counts must be finite and >= 0; bins {bad.tolist()} are not")
        b = len(self.counts)
        if self.stat_errors is not None:
            self.stat_errors = np.asarray(self.stat_errors, np.float64)
            if self.stat_errors.shape != (b,):
                raise ValueError(f"template {self.name!r}: stat_errors must have shape ({b},), "
                                 f"got {self.stat_errors.shape}")
        for key, (up, down) in self.shapes.items():
            for what, arr in (("up", up), ("down", down)):
                if np.shape(arr) != (b,):
                    raise ValueError(f"template {self.name!r}: shape systematic {key!r} {what} must have "
                                     f"shape ({b},), got {np.shape(arr)}")

    @classmethod
    def from_values(cls, name: str, values: Any, edges: Sequence[float], *, weights: Any = None,
                    scale: float = 1.0, **systematics: Any) -> Template:
        """The histogram of ``values`` (N,) in ``edges`` (B + 1,), each entry weighted by ``weights``
        (N,) (default 1) times ``scale`` (e.g. sigma x luminosity / N generated): counts = sum of
        weights, stat_errors = sqrt(sum of squared weights) per bin. Values outside the edges are not
        counted. ``systematics``: ``norm=`` and ``shapes=`` as for the constructor."""
        v = np.asarray(values, np.float64)
        w = (np.ones_like(v) if weights is None else np.asarray(weights, np.float64)) * float(scale)
        if v.ndim != 1 or w.shape != v.shape:
            raise ValueError(f"template {name!r}: values must have shape (N,) and weights the same; "
                             f"got {v.shape} and {w.shape}")
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            raise ValueError(f"template {name!r}: {len(bad)} non-finite values, first at rows {bad[:5].tolist()}")
        counts, _ = np.histogram(v, bins=np.asarray(edges, np.float64), weights=w)
        sumw2, _ = np.histogram(v, bins=np.asarray(edges, np.float64), weights=w**2)
        return cls(name, counts, np.sqrt(sumw2), **systematics)

    def modifiers(self, channel: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.stat_errors is not None:
            out.append({"name": f"staterror_{channel}", "type": "staterror", "data": self.stat_errors.tolist()})
        for key, rel in self.norm.items():
            down, up = (rel, rel) if isinstance(rel, int | float) else rel
            out.append({"name": key, "type": "normsys", "data": {"hi": 1.0 + float(up), "lo": 1.0 - float(down)}})
        for key, (up, down) in self.shapes.items():
            out.append({"name": key, "type": "histosys",
                        "data": {"hi_data": np.asarray(up, float).tolist(), "lo_data": np.asarray(down, float).tolist()}})
        return out


def _check_background(channel: str, backgrounds: Sequence[Template], edges: Sequence[float] | None) -> None:
    total = np.sum([t.counts for t in backgrounds], axis=0)
    empty = np.flatnonzero(total <= 0)
    if len(empty):
        where = [f"bin {i}" + (f" [{edges[i]:g}, {edges[i + 1]:g})" if edges is not None else "") for i in empty]
        raise ValueError(f"channel {channel!r}: no expected background in {', '.join(where)}; a likelihood fit "
                         "needs background in every bin (merge or drop these bins, or widen them)")


def build_workspace(signal: Template, backgrounds: Sequence[Template], *, observed: Sequence[float] | None = None,
                    channel: str = "sr", edges: Sequence[float] | None = None,
                    name: str = "colliderlab") -> dict[str, Any]:
    """The HistFactory workspace of one channel (a dict; ``json.dump`` it for pyhf or cabinetry).

    ``observed`` defaults to the background-only Asimov data (the sum of the backgrounds), so the
    observed results equal the expected ones. ``edges`` (B + 1,) only name empty bins in errors.

    Raises:
        ValueError: bins without expected background (named, with their edges), templates of
            different binnings, or ``observed`` of the wrong shape.
    """
    if not backgrounds:
        raise ValueError("build_workspace needs at least one background template")
    n_bins = len(signal.counts)
    for t in backgrounds:
        if len(t.counts) != n_bins:
            raise ValueError(f"template {t.name!r} has {len(t.counts)} bins, the signal {n_bins}")
    _check_background(channel, backgrounds, edges)
    data = np.sum([t.counts for t in backgrounds], axis=0) if observed is None else np.asarray(observed, float)
    if data.shape != (n_bins,):
        raise ValueError(f"observed must have shape ({n_bins},), got {data.shape}")
    sig = {"name": signal.name, "data": signal.counts.tolist(),
           "modifiers": [{"name": POI, "type": "normfactor", "data": None}, *signal.modifiers(channel)]}
    samples = [sig] + [{"name": t.name, "data": t.counts.tolist(), "modifiers": t.modifiers(channel)}
                       for t in backgrounds]
    s_tot, b_tot = float(signal.counts.sum()), float(np.sum([t.counts.sum() for t in backgrounds]))
    # mu's range: ten times a rough 95% limit (2 sqrt(b) + 4 events of signal), at least pyhf's 10
    mu_max = max(10.0, 10.0 * (2.0 * np.sqrt(b_tot) + 4.0) / max(s_tot, 1e-12))
    return {
        "channels": [{"name": channel, "samples": samples}],
        "observations": [{"name": channel, "data": data.tolist()}],
        "measurements": [{"name": name, "config": {"poi": POI, "parameters": [
            {"name": POI, "bounds": [[0.0, mu_max]], "inits": [1.0]}]}}],
        "version": "1.0.0",
    }
