"""Experiment configuration: the dataclasses of an experiment file, its parsing and ``--set`` overrides.

An experiment is a YAML mapping with the sections of :class:`ExperimentConfig`::

    name: pfn-toptag
    data: {path: data/toptag.h5, n_jets: 20000}
    representation: {kind: particles, n_particles: 64}
    model: {name: pfn, preset: lite}
    trainer: {epochs: 10, lr: 1.0e-3, batch_size: 256}

Every section is parsed by :func:`colliderlab.configs.from_dict`: an unknown key is an error
naming it and the valid keys, and YAML 1.1's numeric strings (``3e-4``) become numbers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from colliderlab.configs import from_dict
from colliderlab.train.trainer import TrainerConfig

if TYPE_CHECKING:
    from colliderlab.features.targets import TargetTransform

__all__ = [
    "STREAM_AUTO_JETS",
    "DataConfig",
    "ModelSection",
    "ExperimentConfig",
    "load_experiment",
    "experiment_from_dict",
    "apply_overrides",
]


STREAM_AUTO_JETS = 200_000
"""``data.stream: auto`` streams a sharded master file of more jets than this."""


@dataclass(frozen=True)
class DataConfig:
    """Where the jets come from and how they are split.

    ``path`` is any file :func:`colliderlab.data.readers.read_jets` reads. With ``val_path`` /
    ``test_path`` those files are used as given; otherwise ``path`` is split randomly with
    ``split_seed``. ``n_jets`` keeps only the first jets of ``path``. ``cache_dir = "auto"``
    caches representations in ``<data dir>/.cache``; ``None`` disables caching. ``target``
    (a name from :data:`colliderlab.features.targets.TARGETS`, e.g. ``truth_pt``) trains a
    regression head on that per-jet quantity instead of a classifier. ``target_transform``
    (``none``, ``ratio``, ``log_ratio``) has the head learn target / reference or its log
    instead, ``target_reference`` a measured quantity (default: the target's measured
    counterpart, e.g. ``visible_energy`` for ``incident_energy``); see
    :class:`colliderlab.features.targets.TargetTransform`.

    Streaming (:mod:`colliderlab.train.stream`, for samples larger than memory): ``stream``
    is ``false`` (default: the representation of every jet is computed and held in memory),
    ``true`` (train, validate and test over a stream of ``path``: a sharded master file or a
    colliderlab jet file; the split is a hash of (shard file name, row) with the same fractions
    and ``split_seed``; the standardiser is fitted on the first 20k training jets; classifier
    runs of torch models only; ``cache_dir`` is not used), or ``auto`` (stream when ``path`` is a
    sharded master file of more than 200k jets, after ``n_jets``). ``loader_workers``: DataLoader
    processes reading shards and computing representations while the model trains (0: in the
    training process; on a machine of 2 cores 0 or 1). ``shuffle_buffer``: rows each of them
    shuffles through (memory: buffer + read chunk per worker).
    """

    path: str = ""
    val_path: str | None = None
    test_path: str | None = None
    n_jets: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    cache_dir: str | None = "auto"
    target: str | None = None
    target_transform: str = "none"
    target_reference: str | None = None
    stream: bool | Literal["auto"] = False
    loader_workers: int = 0
    shuffle_buffer: int = 10_000

    def __post_init__(self) -> None:
        if self.stream not in (True, False, "auto"):
            raise ValueError(f"data.stream = {self.stream!r}: choose one of false, true, auto")
        if self.loader_workers < 0 or self.shuffle_buffer < 0:
            raise ValueError("data.loader_workers and data.shuffle_buffer must be >= 0")
        if self.target is None:
            if self.target_transform != "none" or self.target_reference is not None:
                raise ValueError("data.target_transform and data.target_reference need data.target")
            return
        self.transform()  # unknown transforms, references or targets fail here, listing the valid ones

    def streams(self) -> bool:
        """Whether the run streams its data: ``stream`` true, or ``auto`` and ``path`` a sharded
        master file of more than :data:`STREAM_AUTO_JETS` jets (after ``n_jets``)."""
        if self.stream != "auto":
            return bool(self.stream)
        from colliderlab.data.formats import count_jets, detect_format

        if not self.path or detect_format(self.path) != "colliderlab-sharded":
            return False
        n = count_jets(self.path)
        return min(n, self.n_jets if self.n_jets is not None else n) > STREAM_AUTO_JETS

    def transform(self) -> TargetTransform:
        """The :class:`~colliderlab.features.targets.TargetTransform` of the target (reference resolved)."""
        from colliderlab.features.targets import TargetTransform

        return TargetTransform.for_target(self.target, self.target_transform, self.target_reference)


@dataclass(frozen=True)
class ModelSection:
    """A registered model (``colliderlab list-models``) or a baseline, its preset and overrides."""

    name: str = "pfn"
    preset: str = "lite"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment. ``representation`` is ``{kind: ..., options...}``; empty picks the
    model's default representation. ``quantization`` (e.g. ``{weights: "ap_fixed<8,2>",
    activations: "ap_fixed<10,5>"}``) trains the model quantisation-aware
    (:func:`colliderlab.nn.quant.prepare_qat`); empty trains in floating point. ``decorrelation``
    (e.g. ``{method: disco, variable: mass, lambda: 10}``,
    :class:`colliderlab.train.decorrelation.DecorrelationConfig`) decorrelates a torch classifier's
    score from a per-jet variable; empty trains without. ``calibration: temperature`` fits a
    temperature on the validation split after training and stores it with the run
    (:mod:`colliderlab.calibration`); ``none`` (default) does not."""

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    representation: Mapping[str, Any] = field(default_factory=dict)
    model: ModelSection = field(default_factory=ModelSection)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    quantization: Mapping[str, Any] = field(default_factory=dict)
    decorrelation: Mapping[str, Any] = field(default_factory=dict)
    calibration: Literal["none", "temperature"] = "none"

    def __post_init__(self) -> None:
        if self.calibration not in ("none", "temperature"):
            raise ValueError(f"calibration = {self.calibration!r}: choose one of none, temperature")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"]["options"] = dict(self.model.options)
        d["representation"] = dict(self.representation)
        d["quantization"] = dict(self.quantization)
        d["decorrelation"] = dict(self.decorrelation)
        return plain(d)


def plain(x: Any) -> Any:
    """Nested mappings and sequences as dicts and lists (YAML/JSON friendly)."""
    if isinstance(x, Mapping):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def experiment_from_dict(d: Mapping[str, Any]) -> ExperimentConfig:
    """Parse a nested dict; every unknown key is an error naming it and the valid keys."""
    if not isinstance(d, Mapping):
        raise TypeError("an experiment must be a mapping with keys name, data, representation, model, trainer")
    d = dict(d)
    rep = d.get("representation") or {}
    if not isinstance(rep, Mapping):
        raise TypeError("'representation' must be a mapping like {kind: particles, n_particles: 64}")
    model = d.get("model") or {}
    if isinstance(model, Mapping) and "options" in model and not isinstance(model["options"], Mapping):
        raise TypeError("'model.options' must be a mapping of model-config fields to values")
    quant = d.get("quantization") or {}
    if quant:
        from colliderlab.nn.quant import QuantConfig

        quant = QuantConfig.from_dict(quant, "quantization").to_dict()  # unknown keys / bad formats fail here
    dec = d.get("decorrelation") or {}
    if dec:
        from colliderlab.train.decorrelation import DecorrelationConfig

        if not isinstance(dec, Mapping):
            raise TypeError("'decorrelation' must be a mapping like {method: disco, variable: mass, lambda: 10}")
        dec = DecorrelationConfig.from_dict(dec).to_dict()  # unknown methods / variables fail here
    d.update(representation=dict(rep), model=model, quantization=dict(quant), decorrelation=dict(dec))
    if "name" in d:
        d["name"] = str(d["name"])
    return from_dict(ExperimentConfig, d)


def apply_overrides(d: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a nested dict, in place."""
    import yaml

    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value (e.g. trainer.lr=3e-4), got {item!r}")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"--set {key}: {p!r} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return d


def load_experiment(path: str | os.PathLike, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a YAML experiment file and apply ``--set`` overrides."""
    import yaml

    with open(path) as f:
        d = yaml.safe_load(f) or {}
    return experiment_from_dict(apply_overrides(d, overrides))
