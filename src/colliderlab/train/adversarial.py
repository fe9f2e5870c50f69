"""Adversarial training of any torch tagger through the trainer's model-supplied ``training_step``:
mass decorrelation (Louppe, Kagan and Cranmer, arXiv:1611.01046; Shimmin et al., arXiv:1703.03507)
and robustness to the generator (the adversary guesses which shower a jet came from).

:class:`AdversarialTagger` wraps a classifier. Each step first updates the adversary
(:mod:`colliderlab.nn.adversary`) to predict a nuisance from the classifier's signal score, then the
classifier on ``L_clf - lambda x L_adv``: it is paid for every nat the adversary loses. The nuisance
travels in the batch as an auxiliary array the classifier does not read (``ArrayDataset({...,
"mass": m})``):

* ``mode = "bins"``: the adversary predicts the bin of the variable (bin edges: weighted quantiles of
  the training background, fitted once by ``initialise_from``);
* ``mode = "mixture"``: a Gaussian mixture density of the standardised variable;
* ``mode = "classes"``: the variable is already a class index (e.g. 0 = default shower, 1 = Vincia).

``background_only`` (default for mass decorrelation) shows the adversary only background jets, so the
signal may keep its mass peak; for generator robustness every jet is shown. The wrapper's ``forward``
is the classifier's, so scoring, export and the run directory's checkpoints work unchanged (the
checkpoint holds both networks; :func:`colliderlab.train.decorrelation.wrap_model` rebuilds the
wrapper on load).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from colliderlab.nn.adversary import BinAdversary, MixtureAdversary
from colliderlab.train.hooks import StepContext

__all__ = ["AdversaryConfig", "AdversarialTagger", "ADVERSARY_MODES"]

ADVERSARY_MODES = ("bins", "mixture", "classes")


@dataclass(frozen=True)
class AdversaryConfig:
    """The adversary and its game.

    Attributes:
        lam: lambda, the weight of the adversary's loss in the classifier's (>= 0).
        mode: ``bins``, ``mixture`` or ``classes`` (see the module docstring).
        n_bins: bins of the variable (``bins``) or classes (``classes``).
        n_components: Gaussians of the mixture (``mixture``).
        hidden: width of the adversary's two hidden layers.
        lr: the adversary's Adam learning rate.
        adv_steps: adversary updates per classifier update.
        warmup_steps: classifier steps without the penalty at the start (the adversary learns meanwhile).
        background_only: show the adversary only jets whose label is not ``signal_index``.
        signal_index: the class whose probability is the score.
    """

    lam: float = 10.0
    mode: Literal["bins", "mixture", "classes"] = "bins"
    n_bins: int = 10
    n_components: int = 5
    hidden: int = 32
    lr: float = 1e-3
    adv_steps: int = 1
    warmup_steps: int = 0
    background_only: bool = True
    signal_index: int = 1

    def __post_init__(self) -> None:
        if self.mode not in ADVERSARY_MODES:
            raise ValueError(f"adversary mode {self.mode!r} is unknown; choose one of {', '.join(ADVERSARY_MODES)}")
        if self.lam < 0 or self.adv_steps < 1 or self.n_bins < 2 or self.n_components < 1:
            raise ValueError("the adversary needs lam >= 0, adv_steps >= 1, n_bins >= 2 and n_components >= 1")


class AdversarialTagger(nn.Module):
    """``classifier`` trained against an adversary that reads its signal score and predicts
    ``batch[variable]``. Outputs: the classifier's, (B, C) logits."""

    classifier_metrics = True  # the trainer validates it as a classifier (val_auc, val_accuracy)

    def __init__(self, classifier: nn.Module, variable: str = "mass", config: AdversaryConfig | None = None) -> None:
        super().__init__()
        self.classifier = classifier
        self.variable = variable
        self.config = config or AdversaryConfig()
        self.input_names = tuple(classifier.input_names)
        c = self.config
        self.adversary = MixtureAdversary(c.n_components, c.hidden) if c.mode == "mixture" else BinAdversary(
            c.n_bins, c.hidden)
        self.register_buffer("edges", torch.zeros(c.n_bins - 1))  # bins: inner bin edges
        self.register_buffer("loc_scale", torch.tensor([0.0, 1.0]))  # mixture: standardisation

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(*inputs)

    # ------------------------------------------------------------------ trainer hooks
    def configure_optimizers(self, config: Any) -> list[Any]:
        from colliderlab.train.trainer_config import make_optimizer

        return [make_optimizer(config, self.classifier.parameters()),
                torch.optim.Adam(self.adversary.parameters(), lr=self.config.lr)]

    def initialise_from(self, train: Any) -> None:
        """Bin edges (weighted quantiles) or mean and width of the variable over the adversary's jets."""
        arrays = getattr(train, "arrays", None)
        if arrays is None or self.variable not in arrays:
            have = sorted(arrays) if arrays is not None else []
            raise ValueError(f"the adversary predicts {self.variable!r}, which the training set does not carry; "
                             f"its arrays: {', '.join(have)}")
        x = np.asarray(arrays[self.variable], np.float64).reshape(len(train), -1)[:, 0]
        w = np.asarray(train.weights, np.float64)
        if self.config.background_only:
            keep = np.asarray(train.labels) != self.config.signal_index
            x, w = x[keep], w[keep]
        if self.config.mode == "bins":
            order = np.argsort(x)
            cdf = np.cumsum(w[order]) / w.sum()
            q = np.arange(1, self.config.n_bins) / self.config.n_bins
            self.edges.copy_(torch.as_tensor(np.interp(q, cdf, x[order]), dtype=torch.float32))
        elif self.config.mode == "mixture":
            mean = np.average(x, weights=w)
            std = np.sqrt(np.average((x - mean) ** 2, weights=w))
            self.loc_scale.copy_(torch.tensor([mean, max(std, 1e-6)], dtype=torch.float32))

    def _target(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """The adversary's targets and the mask of the jets it sees."""
        if self.variable not in batch:
            valid = sorted(k for k in batch if k not in ("label", "weight"))
            raise ValueError(f"the adversary predicts {self.variable!r}, which the batch does not carry; "
                             f"its arrays: {', '.join(valid)}")
        v = batch[self.variable].reshape(len(batch["label"]), -1)[:, 0]
        if self.config.mode == "bins":
            target = torch.bucketize(v.float().contiguous(), self.edges)
        elif self.config.mode == "mixture":
            target = (v.float() - self.loc_scale[0]) / self.loc_scale[1]
        else:
            target = v.long()
            if int(target.min()) < 0 or int(target.max()) >= self.config.n_bins:
                raise ValueError(f"{self.variable!r} holds classes outside 0..{self.config.n_bins - 1} "
                                 f"(adversary n_bins = {self.config.n_bins})")
        mask = (batch["label"] != self.config.signal_index) if self.config.background_only else torch.ones_like(
            batch["label"], dtype=torch.bool)
        return target, mask

    def _losses(self, out: torch.Tensor, batch: Mapping[str, Any], target: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = batch["weight"].float()
        per = nn.functional.cross_entropy(out.float(), batch["label"], reduction="none")
        clf = (per * w).sum() / w.sum()
        if int(mask.sum()) < 2:
            return clf, out.sum() * 0.0
        score = torch.softmax(out.float(), dim=1)[:, self.config.signal_index]
        return clf, self.adversary.loss(score[mask], target[mask], w[mask])

    def training_step(self, batch: Mapping[str, Any], ctx: StepContext) -> dict[str, float]:
        inputs = [batch[k] for k in self.input_names]
        target, mask = self._target(batch)
        if int(mask.sum()) >= 2:
            with torch.no_grad():
                score = torch.softmax(self.classifier(*inputs).float(), dim=1)[:, self.config.signal_index]
            for _ in range(self.config.adv_steps):
                adv = self.adversary.loss(score[mask], target[mask], batch["weight"].float()[mask])
                ctx.step(adv, ctx.optimizers[1], list(self.adversary.parameters()))
        with ctx.autocast():
            out = self.classifier(*inputs)
        clf, adv = self._losses(out, batch, target, mask)
        lam = self.config.lam if ctx.step_index >= self.config.warmup_steps else 0.0
        total = clf - lam * adv
        value = float(total.detach())
        if not np.isfinite(value):
            raise FloatingPointError(f"adversarial training loss is {value} at step {ctx.step_index}; "
                                     "lower the learning rate or lambda")
        ctx.step(total, ctx.optimizers[0], list(self.classifier.parameters()))
        return {"loss": value, "clf_loss": float(clf.detach()), "adv_loss": float(adv.detach())}

    def validation_step(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """``loss``: the game's value ``clf_loss - lambda x adv_loss`` (what picks the best epoch: the
        classifier's cross entropy alone would pick the epochs before the adversary bit);
        ``clf_loss``, ``adv_loss``."""
        target, mask = self._target(batch)
        clf, adv = self._losses(self.classifier(*[batch[k] for k in self.input_names]), batch, target, mask)
        return {"loss": float(clf - self.config.lam * adv), "clf_loss": float(clf), "adv_loss": float(adv)}
