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

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from colliderlab.models.registry import register_model
from colliderlab.nn.layers import mlp

__all__ = [
    "AnomalyAEConfig",
    "AnomalyVAEConfig",
    "AnomalyScorer",
    "AnomalyAE",
    "AnomalyVAE",
    "SCORE_TERMS",
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
    tasks=("scorer",),
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
        self.encoder = mlp((config.n_features, *h, config.latent), last_activation=False)
        self.decoder = mlp((config.latent, *h[::-1], config.n_features), last_activation=False)
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
    tasks=("scorer",),
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
        self.encoder = mlp((config.n_features, *h, 2 * config.latent), last_activation=False)
        n_out = 2 * config.n_features if config.decoder == "gaussian" else config.n_features
        self.decoder = mlp((config.latent, *h[::-1], n_out), last_activation=False)
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
