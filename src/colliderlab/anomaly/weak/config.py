"""Settings of the weakly supervised searches (:mod:`colliderlab.anomaly.weak`): the methods, the
flow and classifier trainings, the search."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["METHODS", "FlowTrainConfig", "ClassifierConfig", "SearchConfig", "config_dict"]

METHODS = ("supervised", "idealised", "cathode", "cwola", "anode")


@dataclass(frozen=True)
class FlowTrainConfig:
    """The conditional density p(x | m_JJ) and its training (CATHODE used a 15-block MAF with
    batch normalisation; a 4-block MAF is enough for 4 features here and trains on 2 CPU cores).
    """

    kind: str = "maf"
    transforms: int = 4
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-6
    validation: float = 0.2
    patience: int = 8


@dataclass(frozen=True)
class ClassifierConfig:
    """Histogram gradient-boosted trees (scikit-learn), k-fold and seed-ensembled."""

    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    ensemble: int = 1
    validation: float = 0.2  # early-stopping hold-out inside each training fold
    threads: int | None = 1  # OpenMP threads per fit (None: all); one avoids oversubscribed spinning


@dataclass(frozen=True)
class SearchConfig:
    """One search. ``sr`` and ``cwola_width`` in GeV."""

    sr: tuple[float, float] = (3300.0, 3700.0)
    cwola_width: float = 200.0  # CWoLa hunting: sidebands [lo - w, lo] and [hi, hi + w]
    folds: int = 5
    oversample: int = 4  # CATHODE: template events per SR data event
    min_background: int = 25  # SIC only where this many background test events pass
    flow: FlowTrainConfig = field(default_factory=FlowTrainConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)

    def __post_init__(self) -> None:
        if not self.sr[0] < self.sr[1]:
            raise ValueError(f"SearchConfig.sr must be (low, high) with low < high, got {self.sr}")
        if self.folds < 2:
            raise ValueError(f"SearchConfig.folds must be at least 2, got {self.folds}")
        if self.oversample < 1:
            raise ValueError(f"SearchConfig.oversample must be at least 1, got {self.oversample}")


def config_dict(config: SearchConfig) -> dict:
    """The configuration as plain JSON-able values (for the results file)."""
    return asdict(config)
