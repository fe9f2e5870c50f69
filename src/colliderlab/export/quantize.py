"""Fixed-point quantisation: post-training sweeps and quantisation-aware training.

Numbers follow the ``ap_fixed<W, I>`` convention of FPGA firmware (and of hls4ml,
arXiv:1804.06913): ``W`` bits in all, ``I`` of them integer bits including the sign, so values
are multiples of ``2^-(W - I)`` in ``[-2^(I-1), 2^(I-1) - 2^-(W-I)]``. Rounding is
``round`` (to nearest, AP_RND_CONV-like) or ``trunc`` (towards minus infinity, AP_TRN: the
hls4ml default); overflow saturates (AP_SAT) or wraps (AP_WRAP).

The number formats and the QAT layers live in :mod:`colliderlab.nn.quant` (training uses them;
they are re-exported here). Post-training quantisation (PTQ) rounds a trained model's weights and biases and the outputs of
its layers (every ``Linear``, ``Conv``, normalisation and activation module) to a format;
:func:`calibrate` picks per-tensor integer bits from the observed ranges so that a sweep over
``W`` asks how many fractional bits the model needs. Quantisation-aware training (QAT) puts the
same rounding in the forward pass with a straight-through gradient (arXiv:2006.10159 trains
hls4ml's jet tagger this way), so the trainer of :mod:`colliderlab.train` learns weights that
survive it.

    fmt = FixedPoint.parse("ap_fixed<8,3>")
    qmodel = quantize_model(model, weights=fmt, activations=fmt)          # PTQ copy
    rows = ptq_sweep(model, inputs, labels, widths=(4, 6, 8, 12, 16))     # AUC vs bits
    prepare_qat(model, QuantConfig("ap_fixed<8,2>", "ap_fixed<10,5>"))    # in place, then train
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from colliderlab.nn.quant import (
    QUANTIZED_MODULES,
    FixedPoint,
    QuantConfig,
    _activation_types,
    _quantised_types,
    prepare_qat,
    quantize_tensor,
)

__all__ = [
    "FixedPoint",
    "QuantConfig",
    "quantize_tensor",
    "quantize_model",
    "calibrate",
    "ptq_sweep",
    "prepare_qat",
    "QUANTIZED_MODULES",
]

def _weight_names(module: Any) -> list[str]:
    return [n for n in ("weight", "bias") if getattr(module, n, None) is not None]


def calibrate(model: Any, inputs: Sequence[Any], width: int) -> dict[str, FixedPoint]:
    """Per-tensor formats of ``width`` bits whose integer bits cover the observed range.

    Weights (``"<module>.weight"``) by their largest magnitude, layer outputs (``"<module>:out"``)
    and floating-point model inputs (``"input:<i>"``, as the firmware receives them) by their
    largest magnitude on ``inputs`` (a calibration batch, in ``input_names`` order):
    ``I = ceil(log2(max |x|)) + 1`` (sign bit included), at least 1.
    """
    import torch

    def fmt(maxabs: float) -> FixedPoint:
        i = max(1, math.ceil(math.log2(maxabs)) + 1) if maxabs > 0 else 1
        return FixedPoint(width, i)

    out: dict[str, FixedPoint] = {}
    hooks = []
    ranges: dict[str, float] = {}
    for i, t in enumerate(inputs):
        if t.is_floating_point():
            out[f"input:{i}"] = fmt(float(t.abs().max()))
    for name, mod in model.named_modules():
        if isinstance(mod, _quantised_types()):
            for w in _weight_names(mod):
                out[f"{name}.{w}"] = fmt(float(getattr(mod, w).detach().abs().max()))
        if isinstance(mod, _quantised_types() + _activation_types()):
            def hook(m: Any, args: Any, y: Any, key: str = f"{name}:out") -> None:
                ranges[key] = max(ranges.get(key, 0.0), float(y.detach().abs().max()))
            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model.eval()(*inputs)
    finally:
        for h in hooks:
            h.remove()
    out.update({k: fmt(v) for k, v in ranges.items()})
    return out


def quantize_model(
    model: Any,
    weights: FixedPoint | str | None = None,
    activations: FixedPoint | str | None = None,
    *,
    formats: Mapping[str, FixedPoint] | None = None,
) -> Any:
    """A post-training-quantised copy of ``model``.

    Weights and biases of Linear/Conv modules are rounded once; layer outputs are rounded by
    forward hooks; with ``formats`` from :func:`calibrate` the model's floating-point inputs are
    rounded too. ``formats`` gives per-tensor formats that override ``weights`` /
    ``activations``; ``None`` leaves that part in floating point.
    """
    import torch

    q = copy.deepcopy(model).eval()
    formats = dict(formats or {})
    wfmt = FixedPoint.parse(weights) if weights is not None else None
    afmt = FixedPoint.parse(activations) if activations is not None else None
    with torch.no_grad():
        for name, mod in q.named_modules():
            if isinstance(mod, _quantised_types()):
                for w in _weight_names(mod):
                    f = formats.get(f"{name}.{w}", wfmt)
                    if f is not None:
                        p = getattr(mod, w)
                        p.copy_(quantize_tensor(p, f))
            if isinstance(mod, _quantised_types() + _activation_types()):
                f = formats.get(f"{name}:out", afmt)
                if f is not None:
                    mod.register_forward_hook(lambda m, a, y, f=f: quantize_tensor(y, f))
    in_fmts = {int(k.split(":")[1]): f for k, f in formats.items() if k.startswith("input:")}
    if in_fmts:
        def round_inputs(m: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(quantize_tensor(a, in_fmts[i]) if i in in_fmts else a for i, a in enumerate(args))

        q.register_forward_pre_hook(round_inputs)
    return q


def ptq_sweep(
    model: Any,
    inputs: Sequence[Any],
    labels: np.ndarray,
    widths: Sequence[int] = (4, 6, 8, 10, 12, 14, 16),
    *,
    calibration: Sequence[Any] | None = None,
    score: Callable[[np.ndarray, np.ndarray], Mapping[str, float]] | None = None,
    batch_size: int = 4096,
) -> list[dict[str, Any]]:
    """Accuracy and AUC of the model quantised at each total width (weights and activations).

    Integer bits per tensor come from :func:`calibrate` on ``calibration`` (default: the first
    1024 jets of ``inputs``). The first row (``width = None``) is the float model.

    Args:
        inputs: model inputs, tensors (J, ...) in ``input_names`` order.
        labels: (J,) int class labels.
        score: ``(probs (J, C), labels) -> metrics``; default accuracy and (mean one-vs-rest) AUC.
    """
    import torch

    from colliderlab.train.runs import score_metrics

    if score is None:

        def score(p: np.ndarray, y: np.ndarray) -> Mapping[str, float]:
            m = score_metrics(p, y, [str(i) for i in range(p.shape[1])])
            return {"accuracy": m["accuracy"], "auc": m["auc"]}

    calib = calibration or [t[:1024] for t in inputs]

    def run(m: Any) -> np.ndarray:
        outs = []
        with torch.no_grad():
            for s in range(0, len(inputs[0]), batch_size):
                outs.append(m(*[t[s : s + batch_size] for t in inputs]).float())
        return torch.softmax(torch.cat(outs), 1).numpy()

    rows = [{"width": None, "format": "float32", **score(run(model.eval()), labels)}]
    for w in widths:
        formats = calibrate(model, calib, w)
        qm = quantize_model(model, formats=formats)
        probs = run(qm)
        ints = sorted({f.integer for f in formats.values()})
        rows.append({"width": int(w), "format": f"ap_fixed<{w},I> (I per tensor: {ints[0]}..{ints[-1]})",
                     **score(probs, labels)})
    return rows
