"""Gradient attributions of torch taggers with captum: integrated gradients and saliency.

The explained quantity is the log-probability of a class, ``log_softmax(logits)[:, target]``
(for a binary tagger of the signal class, a monotonic function of its score). Integrated
gradients (Sundararajan et al., arXiv:1703.01365) integrate the gradient along the straight path
from a baseline (zeros: the mean of a standardised feature, an empty image) to the input; they are
*complete*: the attributions of a jet sum to f(input) - f(baseline), which
:func:`integrated_gradients` returns as the convergence check. Saliency (Simonyan et al.,
arXiv:1312.6034) is the absolute gradient at the input.

Shapes: ``inputs`` maps each of the model's ``input_names`` to a (B, ...) array; attributions
have the shape of the attributed arrays (``wrt``), e.g. ``x`` (B, N, F) or ``image`` (B, C, H, W).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["attributed_inputs", "integrated_gradients", "saliency", "per_particle", "particle_occlusion"]

_DISCRETE = ("mask", "children", "level", "root")


def attributed_inputs(model: Any, inputs: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """The inputs attributions are taken with respect to: the continuous arrays the model reads,
    except the raw four-momenta of models that read other particle arrays too: ParT's pair
    features of a zero four-momentum are undefined and ``x`` already describes the particle; an
    EFN reads them only through the scale-invariant energy fractions z (whose square root has no
    gradient at zero), so its attributions are those of the angles, from a baseline with every
    particle on the jet axis."""
    names = [n for n in model.input_names if n not in _DISCRETE and np.issubdtype(inputs[n].dtype, np.floating)]
    if "p4" in names and len(names) > 1:
        names.remove("p4")
    return tuple(names)


def _forward(names: Sequence[str], wrt: Sequence[str], model: Any, target: int) -> Any:
    """``f(*attributed, *others)``: the others (e.g. ``mask``) travel as captum's additional
    forward arguments, so that captum expands them with the interpolation steps."""
    import torch

    others = [n for n in names if n not in wrt]

    def f(*args: Any) -> Any:
        given = dict(zip([*wrt, *others], args, strict=True))
        return torch.log_softmax(model(*[given[n] for n in names]), -1)[:, target]

    return f


def _tensors(inputs: Mapping[str, np.ndarray], names: Sequence[str], device: Any) -> dict[str, Any]:
    import torch

    return {n: torch.as_tensor(np.asarray(inputs[n]), device=device) for n in names}


def integrated_gradients(model: Any, inputs: Mapping[str, np.ndarray], target: int, *, n_steps: int = 64,
                         wrt: Sequence[str] | None = None, batch_size: int = 128
                         ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Integrated gradients of ``log p(target)`` with zero baselines.

    Returns:
        attributions per ``wrt`` array; ``delta`` (B,) the completeness error, sum of the attributions
        minus (f(input) - f(baseline)); ``gain`` (B,) f(input) - f(baseline).
    """
    import torch
    from captum.attr import IntegratedGradients

    model.eval()
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    wrt = tuple(wrt or attributed_inputs(model, inputs))
    n = len(next(iter(inputs.values())))
    out: dict[str, list[np.ndarray]] = {k: [] for k in wrt}
    deltas, gains = [], []
    for lo in range(0, n, batch_size):
        part = {k: v[lo:lo + batch_size] for k, v in inputs.items()}
        t = _tensors(part, model.input_names, device)
        f = _forward(model.input_names, wrt, model, target)
        others = tuple(t[n] for n in model.input_names if n not in wrt)
        x = tuple(t[k].to(dtype) for k in wrt)
        base = tuple(torch.zeros_like(v) for v in x)
        attr, delta = IntegratedGradients(f).attribute(
            x, baselines=base, additional_forward_args=others, n_steps=n_steps, return_convergence_delta=True,
            internal_batch_size=batch_size * 4)
        with torch.no_grad():
            gains.append((f(*x, *others) - f(*base, *others)).cpu().numpy())
        deltas.append(delta.detach().cpu().numpy())
        for k, a in zip(wrt, attr, strict=True):
            out[k].append(a.detach().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}, np.concatenate(deltas), np.concatenate(gains)


def saliency(model: Any, inputs: Mapping[str, np.ndarray], target: int, *, wrt: Sequence[str] | None = None,
             batch_size: int = 256) -> dict[str, np.ndarray]:
    """|d log p(target) / d input| at the input, per ``wrt`` array."""
    from captum.attr import Saliency

    model.eval()
    device = next(model.parameters()).device
    wrt = tuple(wrt or attributed_inputs(model, inputs))
    n = len(next(iter(inputs.values())))
    out: dict[str, list[np.ndarray]] = {k: [] for k in wrt}
    for lo in range(0, n, batch_size):
        t = _tensors({k: v[lo:lo + batch_size] for k, v in inputs.items()}, model.input_names, device)
        others = tuple(t[n] for n in model.input_names if n not in wrt)
        attr = Saliency(_forward(model.input_names, wrt, model, target)).attribute(
            tuple(t[k].float() for k in wrt), additional_forward_args=others, abs=True)
        for k, a in zip(wrt, attr, strict=True):
            out[k].append(a.detach().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def per_particle(attributions: Mapping[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Signed attribution of each particle (B, N): the sum over its features of every attributed
    per-particle array ((B, N, F) each); zero for padding."""
    total = sum(a.reshape(*a.shape[:2], -1).sum(-1) for a in attributions.values() if a.ndim >= 2)
    return np.where(mask, total, 0.0)


def particle_occlusion(model: Any, inputs: Mapping[str, np.ndarray], target: int, *, batch_size: int = 64,
                       per_eval: int = 16) -> np.ndarray:
    """Occlusion of whole particles (captum ``FeatureAblation``, one feature group per particle
    slot across every per-particle input, the ``mask`` included): the attribution of a particle is
    ``f(jet) - f(jet without it)``, with ``f`` the log-probability of ``target`` and the particle
    removed (masked out, its arrays zeroed), not moved to a baseline value. Exact, no
    integration; N forward passes of the batch. Returns (B, N), zero for padding."""
    import torch
    from captum.attr import FeatureAblation

    model.eval()
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    names = tuple(model.input_names)
    if "mask" not in names:
        raise ValueError(f"particle occlusion needs a model that reads a particle mask (inputs {list(names)})")

    def f(*args: Any) -> Any:
        given = dict(zip(names, args, strict=True))
        given["mask"] = given["mask"] > 0.5
        return torch.log_softmax(model(*[given[n] for n in names]), -1)[:, target]

    n_jets, n_slots = np.asarray(inputs["mask"]).shape
    out = []
    for lo in range(0, n_jets, batch_size):
        t = _tensors({k: v[lo:lo + batch_size] for k, v in inputs.items()}, names, device)
        x = tuple(t[n].to(dtype) for n in names)  # the mask as 0/1 so that ablation can zero it
        groups = tuple(torch.arange(n_slots, device=device).reshape(1, n_slots, *([1] * (v.dim() - 2))).expand_as(v)
                       for v in x)
        with torch.no_grad():
            attr = FeatureAblation(f).attribute(x, baselines=tuple(0.0 for _ in x), feature_mask=groups, perturbations_per_eval=per_eval)
        m = attr[names.index("mask")]  # (B, N): every group's value, read where its mask sits
        out.append(m.detach().cpu().numpy().astype(np.float64))
    occ = np.concatenate(out)
    return np.where(np.asarray(inputs["mask"], bool), occ, 0.0)
