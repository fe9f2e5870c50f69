"""Dijet samples of a search: features and m_JJ (TeV), the injected-signal split into data, templates
and test set, and the flows' preprocessing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from colliderlab.anomaly.weak.config import SearchConfig

__all__ = ["DijetSample", "SearchSplit", "Preprocessor", "search_arrays", "make_split"]

@dataclass
class DijetSample:
    """Events of one kind: ``x`` (N, 4) search features (TeV for masses), ``mjj`` (N,) TeV."""

    x: np.ndarray
    mjj: np.ndarray

    def __post_init__(self) -> None:
        self.x = np.asarray(self.x, np.float64)
        self.mjj = np.asarray(self.mjj, np.float64).reshape(-1)
        if self.x.ndim != 2 or self.x.shape[1] != 4:
            raise ValueError(f"DijetSample.x must have shape (N, 4), got {self.x.shape}")
        if len(self.mjj) != len(self.x):
            raise ValueError(f"DijetSample.mjj has {len(self.mjj)} entries but x has {len(self.x)} rows")
        bad = ~np.isfinite(self.x).all(axis=1) | ~np.isfinite(self.mjj)
        if bad.any():
            raise ValueError(f"DijetSample has {bad.sum()} non-finite events, first at row {int(np.argmax(bad))}")

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: np.ndarray) -> DijetSample:
        return DijetSample(self.x[index], self.mjj[index])

    @staticmethod
    def concat(*samples: DijetSample) -> DijetSample:
        return DijetSample(np.concatenate([s.x for s in samples]), np.concatenate([s.mjj for s in samples]))


def search_arrays(features: Mapping[str, np.ndarray]) -> DijetSample:
    """The search inputs from :func:`colliderlab.data.dijet_io.read_dijets` (or
    :func:`colliderlab.physics.dijet.dijet_features`) output: (m_J1, Delta m_J) in TeV, both tau21."""
    x = np.stack([np.asarray(features["mj1"]) / 1e3, np.asarray(features["delta_mj"]) / 1e3,
                  np.asarray(features["tau21_j1"]), np.asarray(features["tau21_j2"])], axis=1)  # (N, 4)
    return DijetSample(x, np.asarray(features["mjj"]) / 1e3)


@dataclass
class SearchSplit:
    """The samples of one search run (all masses in TeV).

    ``data``: background plus the injected signal, everywhere in m_JJ, with truth ``data_label``
    (never used by the weak methods); ``sim_bkg``: independent SR background (idealised template);
    ``sig_train``: labelled SR signal for the supervised bound (not injected, not tested);
    ``test`` with ``test_label``: independent SR background and SR signal.
    """

    data: DijetSample
    data_label: np.ndarray
    sim_bkg: DijetSample
    sig_train: DijetSample
    test: DijetSample
    test_label: np.ndarray
    sr: tuple[float, float]

    def in_sr(self, s: DijetSample) -> np.ndarray:
        return (s.mjj >= self.sr[0]) & (s.mjj < self.sr[1])

    @property
    def n_signal_sr(self) -> int:
        return int(self.data_label[self.in_sr(self.data)].sum())

    @property
    def n_background_sr(self) -> int:
        return int((~self.data_label[self.in_sr(self.data)].astype(bool)).sum())


def make_split(background: DijetSample, signal: DijetSample, independent: DijetSample, n_signal: int,
               config: SearchConfig, rng: np.random.Generator, *, n_test_signal: int | None = None) -> SearchSplit:
    """Inject ``n_signal`` signal events (drawn from all m_JJ) into ``background``; split the rest.

    The SR signal events not injected are split in two: half (or ``n_test_signal``) for the test
    set, the rest for the supervised classifier. ``independent`` SR events are split in two halves:
    the idealised template and the test background.
    """
    lo, hi = config.sr[0] / 1e3, config.sr[1] / 1e3
    if n_signal < 0 or n_signal > len(signal):
        raise ValueError(f"n_signal = {n_signal} must be in [0, {len(signal)}] (the signal sample's size)")
    order = rng.permutation(len(signal))
    injected, rest = order[:n_signal], order[n_signal:]
    rest = rest[(signal.mjj[rest] >= lo) & (signal.mjj[rest] < hi)]
    n_test = len(rest) // 2 if n_test_signal is None else min(n_test_signal, len(rest))
    if n_test < 10:
        raise ValueError(f"only {len(rest)} signal-region signal events remain after injecting {n_signal}; "
                         "generate more signal")
    ind_sr = np.flatnonzero((independent.mjj >= lo) & (independent.mjj < hi))
    ind_sr = rng.permutation(ind_sr)
    half = len(ind_sr) // 2
    if half < config.min_background:
        raise ValueError(f"the independent background has {len(ind_sr)} signal-region events; need at least "
                         f"{2 * config.min_background}")
    data = DijetSample.concat(background, signal.take(injected))
    label = np.r_[np.zeros(len(background), np.int64), np.ones(n_signal, np.int64)]
    test = DijetSample.concat(independent.take(ind_sr[half:]), signal.take(rest[:n_test]))
    test_label = np.r_[np.zeros(len(ind_sr) - half, np.int64), np.ones(n_test, np.int64)]
    return SearchSplit(data, label, independent.take(ind_sr[:half]), signal.take(rest[n_test:]), test, test_label,
                       (lo, hi))


class Preprocessor:
    """x -> logit of min-max scaled x -> standardised (CATHODE's preprocessing), and back.

    Fitted on the data; values outside the fitted range are clipped just inside it.
    """

    EPS = 1e-4

    def __init__(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        span = x.max(axis=0) - x.min(axis=0)
        self.lo = x.min(axis=0) - 0.01 * span  # (D,)
        self.hi = x.max(axis=0) + 0.01 * span
        z = self._logit(x)
        self.mean, self.std = z.mean(axis=0), z.std(axis=0) + 1e-12

    def _logit(self, x: np.ndarray) -> np.ndarray:
        u = np.clip((x - self.lo) / (self.hi - self.lo), self.EPS, 1 - self.EPS)
        return np.log(u) - np.log1p(-u)

    def forward(self, x: np.ndarray) -> np.ndarray:  # (N, D) -> (N, D)
        return (self._logit(np.asarray(x, np.float64)) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:  # (N, D) -> (N, D)
        u = 1.0 / (1.0 + np.exp(-(np.asarray(z, np.float64) * self.std + self.mean)))
        return self.lo + u * (self.hi - self.lo)
