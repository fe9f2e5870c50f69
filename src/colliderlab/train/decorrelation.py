"""Mass decorrelation of torch taggers: the DisCo regulariser (Kasieczka and Shih, arXiv:2001.05310)
through the trainer's loss terms, and the experiment file's ``decorrelation`` section, which picks it
or the adversary of :mod:`colliderlab.train.adversarial` (arXiv:1611.01046, 1703.03507)::

    decorrelation: {method: disco, variable: mass, lambda: 10}
    decorrelation: {method: adversary, variable: mass, lambda: 10, adversary: {mode: bins, n_bins: 10}}

The variable is any per-jet observable of :data:`colliderlab.features.observables.AVAILABLE_OBSERVABLES`
(an unknown name is refused listing them); the run computes it for every jet and carries it as an
auxiliary array the model does not read.

``Trainer(model, config, loss_terms={"disco": disco_term(10.0, "mass")})`` adds
lambda x dCorr^2(signal score, variable) over the background jets of each batch
(:func:`colliderlab.nn.disco.distance_correlation`, with the batch's event weights) to the
classification loss. The variable travels in the batch as an auxiliary array the model does not read
(``ArrayDataset({..., "mass": m}, ...)``). Batches need enough background jets for dCorr to be
meaningful (the paper uses batches of thousands); with fewer than two the term is zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from colliderlab.train.hooks import LossTerm

__all__ = ["disco_term", "DecorrelationConfig", "DECORRELATION_METHODS", "decorrelation_variables",
           "loss_terms", "wrap_model"]

DECORRELATION_METHODS = ("disco", "adversary")


def decorrelation_variables() -> tuple[str, ...]:
    """The per-jet variables a run can decorrelate against (the observables' names)."""
    from colliderlab.features.observables import AVAILABLE_OBSERVABLES

    return AVAILABLE_OBSERVABLES


@dataclass(frozen=True)
class DecorrelationConfig:
    """An experiment's ``decorrelation`` section: ``method`` (``disco`` or ``adversary``), the
    ``variable``, its weight ``lambda`` (``lam`` here) and, for the adversary, the other fields of
    :class:`~colliderlab.train.adversarial.AdversaryConfig` under ``adversary``."""

    method: str = "disco"
    variable: str = "mass"
    lam: float = 10.0
    adversary: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecorrelationConfig:
        """Parse the YAML section (``lambda`` is the weight); unknown keys, methods and variables are
        errors listing the valid ones."""
        d = dict(d)
        valid = ("method", "variable", "lambda", "adversary")
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(f"decorrelation: unknown key(s) {unknown}; valid keys: {', '.join(valid)}")
        cfg = cls(str(d.get("method", "disco")), str(d.get("variable", "mass")), float(d.get("lambda", 10.0)),
                  dict(d.get("adversary") or {}))
        cfg.check()
        return cfg

    def check(self) -> None:
        if self.method not in DECORRELATION_METHODS:
            raise ValueError(f"decorrelation.method {self.method!r} is unknown; choose one of "
                             f"{', '.join(DECORRELATION_METHODS)}")
        variables = decorrelation_variables()
        if self.variable not in variables:
            raise ValueError(f"decorrelation.variable {self.variable!r} is not a per-jet variable the runs can "
                             f"compute; valid variables: {', '.join(variables)}")
        if self.lam < 0:
            raise ValueError(f"decorrelation.lambda must be >= 0, got {self.lam}")
        if self.adversary and self.method != "adversary":
            raise ValueError("decorrelation.adversary options need method: adversary")
        self.adversary_config()  # unknown adversary keys fail here

    def adversary_config(self) -> Any:
        from colliderlab.configs import from_dict
        from colliderlab.train.adversarial import AdversaryConfig

        if "lam" in self.adversary:
            raise ValueError("give the adversary's weight as decorrelation.lambda")
        return from_dict(AdversaryConfig, {**dict(self.adversary), "lam": self.lam}, "decorrelation.adversary")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "variable": self.variable, "lambda": self.lam,
                "adversary": dict(self.adversary)}


def loss_terms(section: Mapping[str, Any] | None) -> dict[str, LossTerm]:
    """The trainer's loss terms for an experiment's ``decorrelation`` section (DisCo; else none)."""
    if not section:
        return {}
    cfg = DecorrelationConfig.from_dict(section)
    return {"disco": disco_term(cfg.lam, cfg.variable)} if cfg.method == "disco" else {}


def wrap_model(model: Any, section: Mapping[str, Any] | None) -> Any:
    """``model`` in an :class:`~colliderlab.train.adversarial.AdversarialTagger` when the section asks
    for the adversary (at training and when a run is loaded), else ``model`` itself."""
    if not section:
        return model
    cfg = DecorrelationConfig.from_dict(section)
    if cfg.method != "adversary":
        return model
    from colliderlab.train.adversarial import AdversarialTagger

    return AdversarialTagger(model, cfg.variable, cfg.adversary_config())


def disco_term(weight: float, variable: str = "mass", *, signal_index: int = 1) -> LossTerm:
    """The DisCo loss term ``weight x dCorr^2(softmax(outputs)[:, signal_index], batch[variable])`` on the
    batch's background jets (label != ``signal_index``).

    Raises (when called):
        ValueError: the batch carries no ``variable`` (the message lists the arrays it does carry).
    """
    if weight < 0:
        raise ValueError(f"the DisCo weight must be >= 0, got {weight}")

    def term(outputs: Any, batch: Any) -> Any:
        import torch

        from colliderlab.nn.disco import distance_correlation

        if variable not in batch:
            valid = sorted(k for k in batch if k not in ("label", "weight"))
            raise ValueError(f"DisCo decorrelates against {variable!r}, which the dataset does not carry; "
                             f"its arrays: {', '.join(valid)}")
        bkg = batch["label"] != signal_index
        if int(bkg.sum()) < 2:
            return outputs.sum() * 0.0
        score = torch.softmax(outputs.float(), dim=1)[:, signal_index][bkg]
        var = batch[variable].float().reshape(len(outputs), -1)[:, 0][bkg]
        return weight * distance_correlation(score, var, batch["weight"].float()[bkg])

    return term


def variable_values(path: Any, variable: str, *, stop: int | None = None, chunk_size: int = 50_000) -> Any:
    """The per-jet ``variable`` (an observable name) of the first ``stop`` jets of a file, (J,) float32,
    read in chunks."""
    import numpy as np

    from colliderlab.data.formats import iter_jets
    from colliderlab.features.observables import compute_observables

    parts, n = [], 0
    for jets in iter_jets(path, chunk_size=chunk_size):
        if stop is not None and n >= stop:
            break
        take = len(jets) if stop is None else min(len(jets), stop - n)
        jets = jets[:take] if take < len(jets) else jets
        parts.append(compute_observables(jets, names=[variable])[variable].astype(np.float32))
        n += take
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def attach_variable(ds: Any, values: Any, variable: str) -> Any:
    """``ds`` with ``values`` (J,) as the auxiliary array ``variable`` (not read by the model)."""
    import dataclasses

    if len(values) != len(ds):
        raise ValueError(f"{variable!r} has {len(values)} values for {len(ds)} jets")
    if variable in ds.arrays:
        raise ValueError(f"the representation already has an array named {variable!r}")
    return dataclasses.replace(ds, arrays={**ds.arrays, variable: values})
