"""An event-level generator: a VAE with a latent density information buffer (arXiv:1901.00875).

Otten et al. train a variational autoencoder with a small KL weight (a "B-VAE": the latent codes
stay informative) on whole events, then sample not from the unit-Gaussian prior but from a
*buffer* of the training events' latent posteriors: pick a stored (mu_i, sigma_i), draw
``z = mu_i + alpha sigma_i eps`` (``alpha``: the smudge factor) and decode. Sampling from the
buffer follows the data's latent density, which the prior does not, so sharp structures such as
the Z peak in the dilepton mass survive.

Inputs are Z -> l+ l- events from :func:`colliderlab.physics.events.generate_dileptons`, as the
six features of :func:`event_features` (log pT and eta of both leptons, phi of the leading one and
the acoplanarity), standardised. The model keeps the standardisation and the buffer in
its state (``state_dict``), so a checkpoint alone generates events.

    model = EventVAE(EventVAEConfig())
    model.set_standardisation(x)                             # x = event_features(leptons), (N, 6)
    Trainer(model, TrainerConfig(...)).fit(train, val)     # ArrayDataset {"x": (N, 6)}
    model.fill_buffer(torch.from_numpy(train.arrays["x"]))
    events = model.generate(10_000)                          # (10000, 2, 4) GeV
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from colliderlab import kinematics as kin
from colliderlab.nn.layers import mlp

__all__ = ["EventVAEConfig", "EventVAE", "event_features", "features_to_events"]


def event_features(leptons: np.ndarray) -> np.ndarray:
    """(N, 2, 4) lepton four-vectors -> (N, 6) features: ln pT1, eta1, ln pT2, eta2, phi1 and
    the acoplanarity phi2 - phi1 - pi (wrapped; near 0 for back-to-back leptons, so the Z's
    back-to-back topology is not split at the +-pi seam). Leptons are massless at this precision."""
    x = np.asarray(leptons, np.float64)
    if x.ndim != 3 or x.shape[1:] != (2, 4):
        raise ValueError(f"leptons must have shape (N, 2, 4), got {x.shape}")
    _, px, py, pz = np.moveaxis(x, -1, 0)  # (N, 2) each
    # pt floored at 1e-6 (not kin.eta's 1e-12) for the log and eta; phi straight from arctan2
    # (kin.phi's wrap would move it by an ulp): kept so that the features stay bit-identical.
    pt = np.maximum(kin.pt(x), 1e-6)
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    cols = [np.log(pt[:, 0]), eta[:, 0], np.log(pt[:, 1]), eta[:, 1], phi[:, 0], kin.wrap_phi(phi[:, 1] - phi[:, 0] - np.pi)]
    return np.stack(cols, 1).astype(np.float32)


def features_to_events(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`event_features`: (N, 6) -> (N, 2, 4) massless (E, px, py, pz)."""
    f = np.asarray(x, np.float64)
    pt = np.exp(f[:, [0, 2]])  # (N, 2)
    eta = f[:, [1, 3]]
    phi1 = kin.wrap_phi(f[:, 4])
    phi = np.stack([phi1, kin.wrap_phi(phi1 + f[:, 5] + np.pi)], 1)
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)


@dataclass(frozen=True)
class EventVAEConfig:
    n_features: int = 6
    latent: int = 8
    hidden: tuple[int, ...] = (128, 128)
    beta: float = 0.01
    smudge: float = 1.0


class EventVAE(nn.Module):
    """B-VAE with a density information buffer. Shapes: ``x`` (B, n_features) -> loss (B,)."""

    input_names = ("x",)
    generative = True

    def __init__(self, config: EventVAEConfig) -> None:
        super().__init__()
        self.config = config
        h = tuple(config.hidden)
        self.encoder = mlp((config.n_features, *h, 2 * config.latent), nn.SiLU, last_activation=False)
        self.decoder = mlp((config.latent, *h[::-1], config.n_features), nn.SiLU, last_activation=False)
        self.register_buffer("mean", torch.zeros(config.n_features))
        self.register_buffer("std", torch.ones(config.n_features))
        self.register_buffer("buffer_mu", torch.zeros(0, config.latent))
        self.register_buffer("buffer_sigma", torch.zeros(0, config.latent))

    def set_standardisation(self, x: torch.Tensor) -> None:
        """Store the features' mean and std (call once on the training set, before training)."""
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp(min=1e-6))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder((x - self.mean) / self.std).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # (B, L) each

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        rec = self.decoder(z)
        mse = ((rec - (x - self.mean) / self.std) ** 2).mean(1)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(1)
        return mse + self.config.beta * kl  # (B,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.loss(x)

    def configure_optimizers(self, config: Any) -> list[torch.optim.Optimizer]:
        return [torch.optim.Adam(self.parameters(), lr=config.lr)]

    def training_step(self, batch: dict[str, torch.Tensor], ctx: Any) -> dict[str, float]:
        loss = self.loss(batch["x"]).mean()
        ctx.step(loss, ctx.optimizers[0])
        return {"loss": float(loss.detach())}

    def validation_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        with torch.no_grad():
            return {"loss": float(self.loss(batch["x"]).mean())}

    @torch.no_grad()
    def fill_buffer(self, x: torch.Tensor) -> None:
        """Store the latent posteriors (mu, sigma) of ``x`` (the training events), (M, L) each."""
        self.eval()
        mu, logvar = self.encode(x)
        self.buffer_mu = mu.detach().clone()
        self.buffer_sigma = (0.5 * logvar).exp().detach().clone()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        for name in ("buffer_mu", "buffer_sigma"):  # the buffer's length is the training set's
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def generate(self, n: int, *, from_buffer: bool = True, generator: torch.Generator | None = None) -> np.ndarray:
        """``n`` events (n, 2, 4) in GeV: latent codes from the buffer (or the prior)."""
        self.eval()
        if from_buffer:
            if len(self.buffer_mu) == 0:
                raise RuntimeError("the density buffer is empty: call fill_buffer(training events) first")
            idx = torch.randint(len(self.buffer_mu), (n,), generator=generator)
            eps = torch.randn(n, self.config.latent, generator=generator)
            z = self.buffer_mu[idx] + self.config.smudge * self.buffer_sigma[idx] * eps
        else:
            z = torch.randn(n, self.config.latent, generator=generator)
        x = self.decoder(z) * self.std + self.mean  # (n, n_features)
        return features_to_events(x.numpy())
