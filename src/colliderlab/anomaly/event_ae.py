"""Event-level anomaly scores: a dense autoencoder and a variational autoencoder trained on
Standard-Model events only (Cerri et al., arXiv:1811.10276; the ADC2021 baselines, arXiv:2107.02157).

Both models take the per-event high-level features ``x`` (B, F) in physical units and keep the
standardisation (the Standard-Model training set's mean and standard deviation per feature,
fitted with :class:`colliderlab.data.dataset.Standardizer`) in buffers, so a checkpoint alone
scores events. Per event they give three terms (:meth:`AnomalyScorer.terms`, :func:`score_events`):

* ``anomaly_ae`` (:class:`AnomalyAE`): ``reco`` = mean squared error between the standardised
  input and its reconstruction through a ``latent``-dimensional bottleneck; ``kl`` = 0;
  ``total`` = ``reco``. Linear + ReLU layers only, so hls4ml converts it (the trigger path).
* ``anomaly_vae`` (:class:`AnomalyVAE`): a Gaussian encoder ``q(z|x) = N(mu(x), sigma(x)^2)``
  and, by default, a Gaussian decoder ``p(x|z) = prod_f N(x_f; m_f(z), s_f(z)^2)`` as in
  arXiv:1811.10276 (which uses a product of per-feature pdfs chosen per feature; here every
  standardised feature gets a Gaussian, with ``log s_f^2`` clamped to [-5, 5] so that discrete
  features such as jet multiplicities cannot collapse the variance); ``decoder="mse"`` gives a
  plain mean-squared-error decoder instead. ``reco`` = -log p(x | z = mu(x)) (summed over
  features; the MSE decoder: mean squared error), ``kl`` = KL(q(z|x) || N(0, 1)) (summed over
  the latent axes), ``total`` = ``reco + beta kl``. Training samples ``z``; scoring uses
  ``z = mu(x)``, so scores are deterministic.

Training goes through the project's :class:`~colliderlab.train.trainer.Trainer` (the models
bring ``training_step``/``validation_step`` and ``initialise_from``, which fits the
standardisation on the training set); :func:`train_scorer` wraps it for plain (N, F) arrays.

Presets: ``anomaly_ae`` ``paper`` = hidden (32, 16), latent 3 (the dense-AE baseline of the
ADC2021 data paper, arXiv:2107.02157, as we recall it); ``anomaly_vae`` ``paper`` = hidden
(50, 50), latent 4 (arXiv:1811.10276 as we recall it). Neither was checked against the paper's
text in this repository (no stored source gave the numbers), so neither declares ``paper_params``.

In the registry both are ``generative = True``: not taggers (``forward`` returns the per-event
anomaly score (B,), not class logits), trained on their own loss like the generators.

The trigger path (:func:`export_onnx_scorer`, :func:`hls_scores`): the whole scorer (raw
features -> standardisation -> network -> score) exports to ONNX; for hls4ml the firmware is
the autoencoder network alone (standardised features in, reconstruction out, ``ap_fixed``), and
the anomaly score, the mean squared difference between the firmware's output and its input, is
computed outside the firmware in float64 (on an FPGA it is a handful of subtractions and
multiplies after the network; keeping it outside isolates what the network's fixed point costs).

    model = AnomalyAE(AnomalyAEConfig(n_features=21))
    train_scorer(model, x_train, x_val, TrainerConfig(epochs=20, progress=False))
    s = score_events(model, x_test)          # {"reco": (N,), "kl": (N,), "total": (N,)}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from colliderlab.checks import check_matrix
from colliderlab.models.registry import register_model

__all__ = [
    "AnomalyAEConfig",
    "AnomalyVAEConfig",
    "AnomalyScorer",
    "AnomalyAE",
    "AnomalyVAE",
    "SCORE_TERMS",
    "train_scorer",
    "score_events",
    "export_onnx_scorer",
    "onnx_scores",
    "hls_network",
    "hls_scores",
    "compare_scores",
    "save_scorer",
    "load_scorer",
]

SCORE_TERMS = ("reco", "kl", "total")
"""The per-event terms every scorer returns."""

_LOGVAR_DECODER = (-5.0, 5.0)
_LOGVAR_LATENT = (-12.0, 8.0)


@dataclass(frozen=True)
class AnomalyAEConfig:
    """Dense autoencoder ``F -> hidden -> latent -> reversed(hidden) -> F``, ReLU after every
    hidden layer (linear bottleneck and output)."""

    n_features: int
    hidden: tuple[int, ...] = (32, 16)
    latent: int = 4
    lr: float | None = None  # None: the trainer's lr

    def __post_init__(self) -> None:
        _check_dims(self)


@dataclass(frozen=True)
class AnomalyVAEConfig:
    """VAE ``F -> hidden -> (mu, log sigma^2) [latent] -> reversed(hidden) -> F (or 2F)``.

    ``decoder``: ``"gaussian"`` (mean and log-variance per feature; the reconstruction term is
    the Gaussian negative log-likelihood) or ``"mse"`` (the mean squared error).
    """

    n_features: int
    hidden: tuple[int, ...] = (50, 50)
    latent: int = 4
    beta: float = 1.0
    decoder: Literal["gaussian", "mse"] = "gaussian"
    lr: float | None = None

    def __post_init__(self) -> None:
        _check_dims(self)
        if self.decoder not in ("gaussian", "mse"):
            raise ValueError(f"AnomalyVAEConfig.decoder = {self.decoder!r}; choose 'gaussian' or 'mse'")
        if self.beta < 0:
            raise ValueError(f"AnomalyVAEConfig.beta must be >= 0, got {self.beta}")


def _check_dims(config: Any) -> None:
    if config.n_features < 1 or config.latent < 1 or not config.hidden or min(config.hidden) < 1:
        raise ValueError(
            f"{type(config).__name__} needs n_features >= 1, latent >= 1 and at least one hidden layer; "
            f"got n_features={config.n_features}, hidden={config.hidden}, latent={config.latent}"
        )


def _mlp(dims: tuple[int, ...]) -> list[nn.Module]:
    """Linear + ReLU between consecutive ``dims`` (ReLU after every layer)."""
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers


class AnomalyScorer(nn.Module):
    """What both event scorers share: the standardisation buffers, the trainer hooks, ``forward``.

    Subclasses define ``terms(x) -> {"reco", "kl", "total"}``, each (B,), on raw features.
    """

    input_names = ("x",)
    generative = True

    def _init_standardisation(self, n_features: int) -> None:
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set_standardisation(self, x: np.ndarray) -> None:
        """Fit the per-feature mean and std on Standard-Model training features ``x`` (N, F)."""
        from colliderlab.data.dataset import Standardizer

        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.config.n_features:
            raise ValueError(f"expected features of shape (N, {self.config.n_features}), got {x.shape}")
        mean, std = Standardizer.fit({"x": x}, ("x",)).stats["x"]
        self.mean.copy_(torch.tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.tensor(std, dtype=torch.float32))

    def initialise_from(self, train: Any) -> None:
        """Trainer hook (fresh runs): the standardisation from the training set's ``x``."""
        self.set_standardisation(train.arrays["x"])

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std  # (B, F)

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The per-event training loss (B,) (= the ``total`` score)."""
        return self.terms(x)["total"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The per-event anomaly score ``total`` (B,) (deterministic in eval mode; what is exported)."""
        return self.terms(x)["total"]

    def configure_optimizers(self, config: Any) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=self.config.lr or config.lr)]

    def training_step(self, batch: dict[str, torch.Tensor], ctx: Any) -> dict[str, float]:
        t = self.terms(batch["x"])
        loss = t["total"].mean()
        value = float(loss.detach())
        if not np.isfinite(value):
            raise FloatingPointError(f"{type(self).__name__}: loss is {value} at step {ctx.step_index}")
        ctx.step(loss, ctx.optimizers[0])
        return {"loss": value, "reco": float(t["reco"].detach().mean()), "kl": float(t["kl"].detach().mean())}

    def validation_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        with torch.no_grad():
            t = self.terms(batch["x"])
        return {"loss": float(t["total"].mean()), "reco": float(t["reco"].mean()), "kl": float(t["kl"].mean())}


@register_model(
    "anomaly_ae",
    config=AnomalyAEConfig,
    representations=("events",),
    presets={"paper": {"hidden": (32, 16), "latent": 3}, "lite": {}},
    reference="arXiv:2107.02157",
)
class AnomalyAE(AnomalyScorer):
    """Dense autoencoder on event features; score = reconstruction MSE. ``x`` (B, F) -> (B,)."""

    def __init__(self, config: AnomalyAEConfig) -> None:
        super().__init__()
        self.config = config
        h = tuple(config.hidden)
        self.encoder = nn.Sequential(*_mlp((config.n_features, *h)), nn.Linear(h[-1], config.latent))
        self.decoder = nn.Sequential(*_mlp((config.latent, *h[::-1])), nn.Linear(h[0], config.n_features))
        self._init_standardisation(config.n_features)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised features (B, F) -> their reconstruction (B, F)."""
        return self.decoder(self.encoder(z))

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.standardise(x)  # (B, F)
        reco = ((self.reconstruct(z) - z) ** 2).mean(1)  # (B,)
        return {"reco": reco, "kl": torch.zeros_like(reco), "total": reco}


@register_model(
    "anomaly_vae",
    config=AnomalyVAEConfig,
    representations=("events",),
    presets={"paper": {"hidden": (50, 50), "latent": 4}, "lite": {"hidden": (32, 32)}},
    reference="arXiv:1811.10276",
)
class AnomalyVAE(AnomalyScorer):
    """VAE on event features; scores: reconstruction NLL, KL, total. ``x`` (B, F) -> (B,)."""

    def __init__(self, config: AnomalyVAEConfig) -> None:
        super().__init__()
        self.config = config
        h = tuple(config.hidden)
        self.encoder = nn.Sequential(*_mlp((config.n_features, *h)), nn.Linear(h[-1], 2 * config.latent))
        n_out = 2 * config.n_features if config.decoder == "gaussian" else config.n_features
        self.decoder = nn.Sequential(*_mlp((config.latent, *h[::-1])), nn.Linear(h[0], n_out))
        self._init_standardisation(config.n_features)

    def encode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised features (B, F) -> latent mean and log-variance, (B, L) each."""
        mu, logvar = self.encoder(z).chunk(2, dim=1)
        return mu, logvar.clamp(*_LOGVAR_LATENT)

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.standardise(x)  # (B, F)
        mu, logvar = self.encode(z)  # (B, L) each
        latent = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        out = self.decoder(latent)  # (B, 2F) or (B, F)
        if self.config.decoder == "gaussian":
            m, lv = out.chunk(2, dim=1)  # (B, F) each
            lv = lv.clamp(*_LOGVAR_DECODER)
            reco = 0.5 * (lv + (z - m) ** 2 * torch.exp(-lv) + float(np.log(2 * np.pi))).sum(1)  # (B,)
        else:
            reco = ((out - z) ** 2).mean(1)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1)  # (B,)
        return {"reco": reco, "kl": kl, "total": reco + self.config.beta * kl}


# --------------------------------------------------------------------------- training and scoring


def _features(x: Any, n_features: int, what: str = "x") -> np.ndarray:
    return check_matrix(x, what, n_features=n_features)


def train_scorer(
    model: AnomalyScorer,
    x_train: np.ndarray,
    x_val: np.ndarray | None = None,
    config: Any = None,
    run_dir: str | os.PathLike | None = None,
) -> Any:
    """Train ``model`` on Standard-Model features ``x_train`` (N, F) with the project's trainer.

    The standardisation is fitted on ``x_train`` (the trainer's ``initialise_from`` hook).
    ``config`` is a :class:`~colliderlab.train.trainer.TrainerConfig` (default: 20 epochs, batch
    256, no progress bar). Returns the :class:`~colliderlab.train.trainer.TrainResult`.
    """
    from colliderlab.data.dataset import ArrayDataset
    from colliderlab.train.trainer import Trainer, TrainerConfig

    f = model.config.n_features
    x_train = _features(x_train, f, "x_train")
    config = config or TrainerConfig(epochs=20, batch_size=256, progress=False, patience=0)
    train = ArrayDataset({"x": x_train}, np.zeros(len(x_train), np.int64), ("sm",))
    val = None
    if x_val is not None and len(x_val):
        x_val = _features(x_val, f, "x_val")
        val = ArrayDataset({"x": x_val}, np.zeros(len(x_val), np.int64), ("sm",))
    result = Trainer(model, config, run_dir).fit(train, val)
    model.cpu().eval()
    return result


@torch.no_grad()
def score_events(model: AnomalyScorer, x: np.ndarray, batch_size: int = 65536) -> dict[str, np.ndarray]:
    """Per-event ``reco``, ``kl`` and ``total`` scores of features ``x`` (N, F), each (N,) float64."""
    x = _features(x, model.config.n_features)
    model.eval()
    device = next(model.parameters()).device
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SCORE_TERMS}
    for start in range(0, len(x), batch_size):
        t = model.terms(torch.from_numpy(x[start : start + batch_size]).to(device))
        for k in SCORE_TERMS:
            parts[k].append(t[k].double().cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}


# --------------------------------------------------------------------------- trigger path


def _export_spec() -> Any:
    from colliderlab.export.onnx import ExportSpec

    return ExportSpec(("x",), {"x": {0: "batch"}}, output_name="anomaly_score", representation="events")


def export_onnx_scorer(
    model: AnomalyScorer, x: np.ndarray, path: str | os.PathLike, *, batch_sizes: tuple[int, ...] = (1, 7, 64)
) -> dict[str, Any]:
    """Export the whole scorer (raw features -> ``total`` score (B,)) to ONNX with a dynamic batch
    axis and compare it with PyTorch on the first events of ``x`` at several batch sizes.

    Returns ``{"file", "input_names", "output_name", "dynamic_axes", "parity": {"max_abs_diff",
    "max_rel_diff", "cases": [...]}}`` (relative to the score's scale on those events).
    """
    from colliderlab.export import onnx as ox

    x = _features(x, model.config.n_features)
    model = model.cpu().eval()
    spec = _export_spec()
    inputs = (torch.from_numpy(x[: max(2, min(16, len(x)))]),)
    file = ox.export_onnx(model, inputs, path, spec)
    session = ox.onnx_session(file, threads=1)
    cases = []
    for bs in batch_sizes:
        xb = x[: min(bs, len(x))]
        with torch.no_grad():
            ref = model(torch.from_numpy(xb)).double().numpy()
        out = ox.run_onnx(session, {"x": xb}).astype(np.float64).reshape(ref.shape)
        scale = max(float(np.abs(ref).max()), 1e-12)
        cases.append({"batch": int(len(xb)), "max_abs_diff": float(np.abs(out - ref).max()),
                      "max_rel_diff": float(np.abs(out - ref).max() / scale)})
    return {
        "file": str(file),
        **spec.to_dict(),
        "parity": {
            "max_abs_diff": max(c["max_abs_diff"] for c in cases),
            "max_rel_diff": max(c["max_rel_diff"] for c in cases),
            "cases": cases,
        },
    }


def onnx_scores(path: str | os.PathLike, x: np.ndarray) -> np.ndarray:
    """Scores (N,) of raw features ``x`` (N, F) from an exported scorer."""
    from colliderlab.export import onnx as ox

    session = ox.onnx_session(path, threads=1)
    return ox.run_onnx(session, {"x": np.ascontiguousarray(x, np.float32)}).astype(np.float64).reshape(-1)


class _AENetwork(nn.Module):
    """The autoencoder's network alone, on standardised features: what the firmware computes."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*encoder, *decoder)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, F)


def hls_network(model: AnomalyAE) -> nn.Module:
    """A copy of ``model``'s encoder + decoder as one ``nn.Sequential`` (hls4ml layers ``net_0``,
    ``net_1``, ...): standardised features (B, F) -> reconstruction (B, F)."""
    import copy

    if not isinstance(model, AnomalyAE):
        raise TypeError(f"the hls4ml trigger path takes the dense autoencoder (AnomalyAE), not {type(model).__name__}")
    m = copy.deepcopy(model).cpu().float().eval()
    return _AENetwork(m.encoder, m.decoder).eval()


def _input_range(precision: str) -> float:
    from colliderlab.export.hls import parse_precision

    width, integer, signed = parse_precision(precision)
    return 2.0 ** (integer - 1 if signed else integer) - 2.0 ** (integer - width)


def hls_scores(
    model: AnomalyAE,
    x: np.ndarray,
    config: Any = None,
    *,
    handle: Any = None,
) -> dict[str, Any]:
    """The autoencoder through hls4ml: convert, compile with g++ and emulate the fixed-point
    firmware on raw features ``x`` (N, F); the anomaly score (mean squared difference between the
    firmware output and the standardised input) is computed outside the firmware, in float64.

    Standardised inputs outside the input type's range (``ap_fixed<16,6>``: |z| < 32) would wrap
    around in the firmware; they are clipped to it first (as a trigger's input stage saturates),
    and the float reference score here is computed on the same clipped inputs.

    Args:
        config: a :class:`colliderlab.export.hls.HLSConfig` (``project_name`` ``anomaly_ae``
            unless set); ignored when ``handle`` (a compiled :class:`~colliderlab.export.hls.HLSHandle`)
            is given.
    Returns:
        ``{"float": (N,), "emulated": (N,), "clipped_fraction", "handle"}``.
    """
    from colliderlab.export import hls

    x = _features(x, model.config.n_features)
    with torch.no_grad():
        z = model.standardise(torch.from_numpy(x)).double().numpy()  # (N, F)
    if handle is None:
        config = config or hls.HLSConfig(project_name="anomaly_ae")
        handle = hls.convert(hls_network(model), (model.config.n_features,), config)
    limit = _input_range(handle.config.precision)
    clipped = np.abs(z) > limit
    zc = np.clip(z, -limit, limit).astype(np.float32)
    net = hls_network(model)
    with torch.no_grad():
        rec_float = net(torch.from_numpy(zc)).double().numpy()
    rec_emul = hls.emulate(handle, zc)  # (N, F)
    zd = zc.astype(np.float64)
    return {
        "float": ((rec_float - zd) ** 2).mean(1),
        "emulated": ((rec_emul - zd) ** 2).mean(1),
        "clipped_fraction": float(clipped.any(1).mean()),
        "handle": handle,
    }


def compare_scores(float_scores: np.ndarray, emulated_scores: np.ndarray, rel_tolerance: float = 0.05) -> dict[str, float]:
    """How an emulated (fixed-point) anomaly score follows the float one on the same events.

    Returns Pearson and Spearman correlations, the fraction of events within ``rel_tolerance``
    (relative to the float score, or absolute below the float scores' median / 10), the median and
    maximum absolute differences.
    """
    from scipy import stats

    f = np.asarray(float_scores, np.float64).reshape(-1)
    e = np.asarray(emulated_scores, np.float64).reshape(-1)
    if f.shape != e.shape or len(f) < 2:
        raise ValueError(f"need two equal-length score arrays of >= 2 events, got {f.shape} and {e.shape}")
    floor = max(float(np.median(np.abs(f))) / 10.0, 1e-12)
    diff = np.abs(e - f)
    return {
        "n_events": int(len(f)),
        "pearson": float(stats.pearsonr(f, e)[0]),
        "spearman": float(stats.spearmanr(f, e)[0]),
        "fraction_within_tolerance": float((diff <= rel_tolerance * np.maximum(np.abs(f), floor)).mean()),
        "rel_tolerance": float(rel_tolerance),
        "median_abs_diff": float(np.median(diff)),
        "max_abs_diff": float(diff.max()),
    }


def save_scorer(model: AnomalyScorer, path: str | os.PathLike) -> Path:
    """Save as ``PATH.safetensors`` + ``PATH.json`` (any suffix of ``path`` replaced;
    :func:`colliderlab.train.checkpoint.save_model`); returns the ``.safetensors`` path."""
    from colliderlab.train.checkpoint import save_model

    return save_model(model, path)


def load_scorer(path: str | os.PathLike) -> AnomalyScorer:
    """Inverse of :func:`save_scorer` (nothing is unpickled)."""
    from colliderlab.train.checkpoint import load_model

    return load_model(path)

