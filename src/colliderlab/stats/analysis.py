"""From tagger scores to a physics result: working point, templates, HistFactory fit.

:func:`analyse` takes, for a validation and a test split, each jet's (or event's) tagger score,
discriminant value (jet mass, m_JJ) and class, and the cross section of every class:

1. every jet is weighted to the expected events at ``lumi_fb``: sigma x efficiency x L / N_class,
   N_class the jets of that class in the split (each split on its own represents the whole);
2. the score cut maximising the Asimov significance is chosen on the validation split and
   reported on the test split (:func:`colliderlab.stats.working_points.choose_working_point`);
3. the test jets that pass give the templates in the discriminant: MC statistical errors
   (``staterror``), the cross-section errors (``normsys``) and, from samples generated with other
   generator settings (:mod:`colliderlab.physics.variations`), shape systematics (``histosys``);
4. pyhf gives the expected discovery significance, the CLs upper limit on mu with its +-1/2
   sigma band, with and without the systematics, and the observed values on pseudo-data (a
   Poisson draw at signal strength ``inject_mu`` with a fixed seed).

Generator variations: ``NAME-up``/``NAME-down`` pairs are one nuisance parameter ``NAME``; a lone
variation (``vincia`` against the default shower) is symmetrised (down = 2 nominal - up, at
least 0). A variation sample's jets are weighted with the nominal cross section times the
variation's own selection efficiency (jets per event), so its MC-statistical error on sigma does not
enter as a systematic; with small variation samples their shape systematics carry the MC noise
of the sample, which the fit cannot tell from a real effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["AnalysisConfig", "Split", "XsecInput", "analyse", "event_weights", "pair_variations"]


@dataclass
class AnalysisConfig:
    """Settings of a statistical analysis (saved with its results).

    Attributes:
        discriminant: the variable the templates are histogrammed in
            (:data:`colliderlab.stats.discriminants.DISCRIMINANTS`, or ``mjj`` for dijet events).
        bins: number of equal-width bins.
        range: (low, high) of the bins; None: the 0.5% and 99.5% quantiles of the selected test
            background.
        lumi_fb: integrated luminosity in fb^-1.
        signal: the signal class (None: the run's last class).
        cl: confidence level of the limits.
        inject_mu: signal strength of the pseudo-data.
        seed: seed of the pseudo-data's Poisson draw.
        min_mc_background: cuts keeping fewer validation background jets are not considered
            (the templates are filled from about as many test jets: too few leave bins empty).
        objective: what the working point maximises: ``z_asimov_mc`` (Z_A with the MC statistical
            error of the background, the default: the fit pays for it) or ``z_asimov``.
        fit: run the pyhf fits (False: working point, templates and workspaces only, e.g. for
            fitting elsewhere with cabinetry).
    """

    discriminant: str = "mass"
    bins: int = 12
    range: tuple[float, float] | None = None
    lumi_fb: float = 140.0
    signal: str | None = None
    cl: float = 0.95
    inject_mu: float = 1.0
    seed: int = 0
    min_mc_background: int = 100
    objective: str = "z_asimov_mc"
    fit: bool = True

    def __post_init__(self) -> None:
        if self.bins < 1 or self.lumi_fb <= 0:
            raise ValueError(f"bins ({self.bins}) and lumi_fb ({self.lumi_fb}) must be positive")
        if self.range is not None:
            lo, hi = (float(x) for x in self.range)
            if not lo < hi:
                raise ValueError(f"range must be (low, high) with low < high, got {self.range}")
            self.range = (lo, hi)


@dataclass
class Split:
    """Scores, discriminant values and class indices (all (N,)) of one split or sample."""

    scores: np.ndarray
    values: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, np.float64)
        self.values = np.asarray(self.values, np.float64)
        self.labels = np.asarray(self.labels, np.int64)
        shapes = {k: getattr(self, k).shape for k in ("scores", "values", "labels")}
        if len(set(shapes.values())) != 1 or self.scores.ndim != 1:
            raise ValueError(f"scores, values and labels must all have shape (N,); got {shapes}")


@dataclass(frozen=True)
class XsecInput:
    """What the weights need of a class's cross section: sigma x efficiency (pb), the relative
    error of sigma (enters as ``normsys``), and the selection efficiency (jets per event)."""

    effective_pb: float
    rel_err: float = 0.0
    filter_efficiency: float = 1.0

    @classmethod
    def from_cross_section(cls, x: Any) -> XsecInput:
        rel = x.sigma_err_pb / x.sigma_pb if x.sigma_pb > 0 else 0.0
        return cls(x.effective_pb, rel, x.filter_efficiency)


def event_weights(labels: np.ndarray, effective_pb: Sequence[float], lumi_fb: float) -> np.ndarray:
    """Per-jet weights: expected events at ``lumi_fb`` per simulated jet of its class.

    labels (N,) class indices; effective_pb (C,) sigma x efficiency per class -> (N,).
    """
    counts = np.bincount(labels, minlength=len(effective_pb)).astype(np.float64)
    per_class = np.where(counts > 0, np.asarray(effective_pb, np.float64) * 1000.0 * lumi_fb / np.maximum(counts, 1), 0.0)
    return per_class[labels]


def pair_variations(names: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """Nuisance name -> (up variation, down variation or None): ``X-up``/``X-down`` pair up."""
    out: dict[str, tuple[str, str | None]] = {}
    for n in names:
        base, _, side = n.rpartition("-")
        if side in ("up", "down") and f"{base}-{'down' if side == 'up' else 'up'}" in names:
            if side == "up":
                out[base] = (n, f"{base}-down")
        else:
            out[n] = (n, None)
    return out


@dataclass
class _Inputs:
    class_names: tuple[str, ...]
    signal: int
    xsec: list[XsecInput]
    config: AnalysisConfig
    variations: dict[str, tuple[Split, list[float]]] = field(default_factory=dict)
    nominal_hist: dict[int, np.ndarray] = field(default_factory=dict)  # class -> nominal passing counts


def _edges(test: Split, passed: np.ndarray, inp: _Inputs) -> np.ndarray:
    cfg = inp.config
    if cfg.range is not None:
        lo, hi = cfg.range
    else:
        bkg = test.values[passed & (test.labels != inp.signal)]
        if not len(bkg):
            raise ValueError("no test background jet passes the working point; use more test jets")
        lo, hi = np.quantile(bkg, [0.005, 0.995])
    return np.linspace(lo, hi, cfg.bins + 1)


def _templates(test: Split, cut: float, edges: np.ndarray, inp: _Inputs) -> list[Any]:
    """The nominal templates (MC statistical errors only): signal first, then one per background
    class present in the test split."""
    from colliderlab.stats.workspace import Template

    w = event_weights(test.labels, [x.effective_pb for x in inp.xsec], inp.config.lumi_fb)
    passed = test.scores >= cut
    out = []
    for c in [inp.signal] + [c for c in range(len(inp.class_names)) if c != inp.signal]:
        if c != inp.signal and not (test.labels == c).any():
            continue
        sel = passed & (test.labels == c)
        out.append(Template.from_values(inp.class_names[c], test.values[sel], edges, weights=w[sel]))
    return out


def _with_systematics(nominal: list[Any], cut: float, edges: np.ndarray, inp: _Inputs) -> list[Any]:
    """The nominal templates with the cross-section ``normsys`` and the variations' ``histosys``."""
    shapes = _shape_systematics(cut, edges, inp)
    out = []
    for t in nominal:
        c = inp.class_names.index(t.name)
        rel = inp.xsec[c].rel_err
        out.append(replace(t, norm={f"xsec_{t.name}": rel} if rel > 0 else {}, shapes=shapes.get(c, {})))
    return out


def _variation_hist(split: Split, eff_pb: list[float], cut: float, edges: np.ndarray, c: int,
                    lumi_fb: float) -> np.ndarray:
    w = event_weights(split.labels, eff_pb, lumi_fb)
    sel = (split.scores >= cut) & (split.labels == c)
    return np.histogram(split.values[sel], bins=edges, weights=w[sel])[0]


def _shape_systematics(cut: float, edges: np.ndarray, inp: _Inputs) -> dict[int, dict[str, tuple]]:
    """class -> {nuisance: (up counts, down counts)} from the variation samples."""
    if not inp.variations:
        return {}
    lumi = inp.config.lumi_fb
    out: dict[int, dict[str, tuple]] = {}
    for nuisance, (up, down) in pair_variations(list(inp.variations)).items():
        for c in range(len(inp.class_names)):
            hists = []
            for v in (up, down):
                if v is None:
                    hists.append(None)
                    continue
                split, eff = inp.variations[v]
                if not (split.labels == c).any():
                    break
                hists.append(_variation_hist(split, eff, cut, edges, c, lumi))
            else:
                if hists[1] is None:  # one-sided: mirror around the nominal
                    hists[1] = np.maximum(2.0 * inp.nominal_hist[c] - hists[0], 0.0)
                out.setdefault(c, {})[nuisance] = (hists[0], hists[1])
    return out


def _efficiency_shifts(test: Split, cut: float, inp: _Inputs) -> dict[str, dict[str, float]]:
    """eS and eB at ``cut`` on the nominal test split and on every variation sample."""
    def effs(split: Split, eff_pb: list[float]) -> dict[str, float]:
        w = event_weights(split.labels, eff_pb, inp.config.lumi_fb)
        sig = split.labels == inp.signal
        passed = split.scores >= cut
        return {"eff_s": float(w[sig & passed].sum() / max(w[sig].sum(), 1e-300)),
                "eff_b": float(w[~sig & passed].sum() / max(w[~sig].sum(), 1e-300)),
                "n_jets": int(len(split.scores))}

    nominal = effs(test, [x.effective_pb for x in inp.xsec])
    out = {"nominal": nominal}
    for name, (split, eff) in inp.variations.items():
        e = effs(split, eff)
        e["shift_s"] = e["eff_s"] / nominal["eff_s"] - 1.0 if nominal["eff_s"] else float("nan")
        e["shift_b"] = e["eff_b"] / nominal["eff_b"] - 1.0 if nominal["eff_b"] else float("nan")
        out[name] = e
    return out


def _fit_results(spec: Mapping[str, Any], inp: _Inputs, with_observed: bool) -> dict[str, Any]:
    from colliderlab.stats.fit import discovery_significance, pseudo_data, upper_limits

    res: dict[str, Any] = {"z_expected": discovery_significance(spec, mu=1.0)}
    lim = upper_limits(spec, cl=inp.config.cl)
    res["limit_expected"] = lim["expected"]
    if with_observed:
        data = pseudo_data(spec, mu=inp.config.inject_mu, seed=inp.config.seed)
        n_main = len(spec["observations"][0]["data"])
        observed_spec = {**spec, "observations": [{"name": spec["observations"][0]["name"],
                                                   "data": data[:n_main].tolist()}]}
        res["z_observed"] = discovery_significance(observed_spec, observed=True)
        res["limit_observed"] = upper_limits(spec, cl=inp.config.cl, data=data)["observed"]
        res["pseudo_data"] = data[:n_main].tolist()
    return res


def _table(scan: Mapping[str, np.ndarray], targets: Sequence[float] = (0.3, 0.5, 0.7, 0.9)) -> list[dict[str, float]]:
    """Rows of the validation scan at the cuts closest to the signal efficiencies ``targets``."""
    keys = ("cut", "eff_s", "eff_b", "s", "b", "s_over_sqrt_b", "s_over_sqrt_s_plus_b", "z_asimov", "z_asimov_mc",
            "n_mc_background")
    rows = []
    for t in targets:
        i = int(np.argmin(np.abs(scan["eff_s"] - t)))
        rows.append({k: float(scan[k][i]) for k in keys})
    return rows


def analyse(val: Split, test: Split, class_names: Sequence[str], xsec: Mapping[str, XsecInput], *,
            config: AnalysisConfig | None = None,
            variations: Mapping[str, tuple[Split, Mapping[str, XsecInput]]] | None = None) -> dict[str, Any]:
    """The full statistical analysis of one tagger (see the module docstring).

    Args:
        val, test: the validation and test splits (class indices into ``class_names``).
        class_names: (C,) class names; ``config.signal`` (default the last) is the signal.
        xsec: class name -> :class:`XsecInput` (every class of the splits needs one).
        variations: variation name -> (its sample as a :class:`Split`, its cross sections).

    Returns a JSON-ready summary (working point, ``cut_table``: s/sqrt(b), s/sqrt(s+b) and Z_A on
    validation at eS = 0.3, 0.5, 0.7, 0.9, yields, fits with and without systematics, efficiency
    shifts, edges) with the workspaces under ``"workspace"`` and
    ``"workspace_stat_only"`` and the validation cut scan under ``"scan"``.
    """
    from colliderlab.stats.working_points import choose_working_point
    from colliderlab.stats.workspace import build_workspace

    config = config or AnalysisConfig()
    names = tuple(class_names)
    if config.signal is not None and config.signal not in names:
        raise ValueError(f"signal class {config.signal!r} is not one of the classes {list(names)}")
    signal = names.index(config.signal) if config.signal is not None else len(names) - 1
    missing = [n for n in names if n not in xsec]
    if missing:
        raise ValueError(f"no cross section for classes {missing}; give them (--xsec NAME=PB) or use a sample "
                         "generated with colliderlab >= schema 2")
    inp = _Inputs(names, signal, [xsec[n] for n in names], config)
    for vname, (split, vx) in (variations or {}).items():
        eff = [xsec[n].effective_pb / xsec[n].filter_efficiency * vx[n].filter_efficiency
               if n in vx and xsec[n].filter_efficiency > 0 else xsec[n].effective_pb for n in names]
        inp.variations[vname] = (split, eff)

    eff_pb = [x.effective_pb for x in inp.xsec]
    w_val, w_test = event_weights(val.labels, eff_pb, config.lumi_fb), event_weights(test.labels, eff_pb, config.lumi_fb)
    is_sig_val, is_sig_test = val.labels == signal, test.labels == signal
    n_s, n_b = float(w_val[is_sig_val].sum()), float(w_val[~is_sig_val].sum())
    wp = choose_working_point(val.scores, is_sig_val, test.scores, is_sig_test, n_signal=n_s, n_background=n_b,
                              val_weights=w_val, test_weights=w_test, min_mc_background=config.min_mc_background,
                              objective=config.objective)
    passed = test.scores >= wp.cut
    edges = _edges(test, passed, inp)
    nominal = _templates(test, wp.cut, edges, inp)
    inp.nominal_hist = {names.index(t.name): t.counts for t in nominal}
    with_sys = _with_systematics(nominal, wp.cut, edges, inp)
    try:
        spec = build_workspace(with_sys[0], with_sys[1:], edges=edges.tolist())
    except ValueError as e:
        n_mc = int((passed & (test.labels != signal)).sum())
        raise ValueError(f"{e}; {n_mc} test background jets pass the cut {wp.cut:.4g}: use fewer bins, another "
                         "range, or a larger min_mc_background") from None
    spec_stat = build_workspace(nominal[0], nominal[1:], edges=edges.tolist())
    scan = wp.scan  # the validation table the cut was chosen from
    return {
        "config": asdict(config),
        "classes": list(names),
        "signal": names[signal],
        "expected_before_cut": {"signal": n_s, "background": n_b},
        "working_point": wp.to_dict(),
        "cut_table": _table(scan),
        "edges": edges.tolist(),
        "yields": {t.name: float(t.counts.sum()) for t in nominal},
        "mc_stat_rel_error": {t.name: float(np.sqrt((t.stat_errors**2).sum()) / max(t.counts.sum(), 1e-300))
                              for t in nominal},
        "fit": _fit_results(spec, inp, with_observed=True) if config.fit else None,
        "fit_stat_only": _fit_results(spec_stat, inp, with_observed=False) if config.fit else None,
        "efficiencies": _efficiency_shifts(test, wp.cut, inp),
        "nuisances": sorted({m["name"] for s in spec["channels"][0]["samples"] for m in s["modifiers"]
                             if m["type"] in ("normsys", "histosys")}),
        "workspace": spec,
        "workspace_stat_only": spec_stat,
        "scan": {k: v.tolist() for k, v in scan.items()},
    }
