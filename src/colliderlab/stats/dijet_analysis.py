"""The LHCO-style W' -> X Y dijet search (arXiv:2101.08320) as a likelihood fit in m_JJ.

A supervised tagger (gradient-boosted trees, xgboost) on the substructure features of the two
jets (``mj1``, ``delta_mj``, ``tau21_j1``, ``tau21_j2``; the set of the weakly supervised searches,
arXiv:2109.00546) is trained on a third of each sample; the working point is chosen on the second
third and the m_JJ templates are filled from the last (:func:`colliderlab.stats.analysis.analyse`).
The samples' Pythia cross sections and selection efficiencies (stored in the dijet files) set
the expected events at the stated luminosity.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from colliderlab.stats.analysis import AnalysisConfig, Split, XsecInput, analyse

__all__ = ["DIJET_FEATURES", "analyse_dijets", "dijet_inputs"]

DIJET_FEATURES = ("mj1", "delta_mj", "tau21_j1", "tau21_j2")
_TAGGER = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8}


def _xsec(attrs: Mapping[str, Any], path: str | os.PathLike, given: float | None) -> XsecInput:
    from colliderlab.physics.xsec import CrossSection

    if given is not None:
        return XsecInput(float(given))
    if not attrs.get("cross_section"):
        raise ValueError(f"{path} holds no cross section (written before they were stored); regenerate it or "
                         "give it by hand (--xsec NAME=PB)")
    return XsecInput.from_cross_section(CrossSection.from_dict(attrs["cross_section"]))


def dijet_inputs(signal: str | os.PathLike, background: str | os.PathLike, *, seed: int = 0,
                 features: Sequence[str] = DIJET_FEATURES,
                 xsec_pb: Mapping[str, float] | None = None) -> tuple[Split, Split, dict[str, XsecInput], dict]:
    """Validation and test :class:`Split` of a dijet signal and background file scored by a
    supervised tagger trained on the first third of each (class 0 ``qcd``, 1 ``wprime``), the
    discriminant m_JJ, and the classes' cross sections."""
    import xgboost

    from colliderlab.data.dijet_io import read_dijets

    given = dict(xsec_pb or {})
    data = {"qcd": read_dijets(background), "wprime": read_dijets(signal)}
    unknown = [f for f in features if f not in data["qcd"]]
    if unknown:
        raise ValueError(f"unknown dijet features {unknown}; valid: mjj, mj1, delta_mj, tau21_j1, tau21_j2")
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {"train": [], "val": [], "test": []}
    for label, d in enumerate(data.values()):
        x = np.stack([d[f] for f in features], axis=1)
        order = np.random.default_rng([seed, label]).permutation(len(x))
        for key, idx in zip(parts, np.array_split(order, 3), strict=True):
            parts[key].append((x[idx], d["mjj"][idx], np.full(len(idx), label)))
    joined = {k: tuple(np.concatenate([p[i] for p in v]) for i in range(3)) for k, v in parts.items()}
    x_tr, _, y_tr = joined["train"]
    balance = np.where(y_tr == 1, (y_tr == 0).sum() / max((y_tr == 1).sum(), 1), 1.0)
    tagger = xgboost.XGBClassifier(**_TAGGER, random_state=seed, n_jobs=1)
    tagger.fit(x_tr, y_tr, sample_weight=balance)
    splits = [Split(tagger.predict_proba(joined[k][0])[:, 1], joined[k][1], joined[k][2]) for k in ("val", "test")]
    xsec = {"qcd": _xsec(data["qcd"]["attrs"], background, given.get("qcd")),
            "wprime": _xsec(data["wprime"]["attrs"], signal, given.get("wprime"))}
    info = {"features": list(features), "tagger": {"xgboost": _TAGGER},
            "n_events": {k: len(v["mjj"]) for k, v in data.items()}}
    return splits[0], splits[1], xsec, info


def analyse_dijets(signal: str | os.PathLike, background: str | os.PathLike, *,
                   config: AnalysisConfig | None = None, xsec_pb: Mapping[str, float] | None = None,
                   features: Sequence[str] = DIJET_FEATURES) -> dict[str, Any]:
    """The W' search's statistical analysis: m_JJ templates after the tagger's working point."""
    config = config or AnalysisConfig(discriminant="mjj", signal="wprime")
    val, test, xsec, info = dijet_inputs(signal, background, seed=config.seed, features=features, xsec_pb=xsec_pb)
    res = analyse(val, test, ("qcd", "wprime"), xsec, config=config)
    res.update(info, signal_file=str(signal), background_file=str(background))
    return res
