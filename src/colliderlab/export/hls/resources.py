"""Pre-synthesis resource estimates (DSPs, LUTs, latency) of a converted model."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from colliderlab.export.hls.config import (
    ACTIVATION_CYCLES,
    DENSE_PIPELINE_CYCLES,
    DSP_MIN_WIDTH,
    PAPER_FIGURES,
    HLSConfig,
    _layer_key,
    parse_precision,
)
from colliderlab.export.hls.frontend import _input_shape

__all__ = ["resource_estimate"]


# --------------------------------------------------------------------------- resources


def _quantised_zero(w: np.ndarray, precision: str) -> np.ndarray:
    """Weights that become exactly 0 in ``precision`` (ap_fixed's default AP_TRN rounds toward
    minus infinity, so 0 <= w < 2^-F truncates to zero; negative weights do not)."""
    width, integer, _ = parse_precision(precision)
    frac = width - integer
    return (w >= 0) & (w < 2.0 ** (-frac))


def _dsp_per_product(w_bits: int, x_bits: int) -> int:
    """DSP48E2 slices per product (27x18 signed multiplier); 0 when built from LUTs."""
    small, big = sorted((w_bits, x_bits))
    if small < DSP_MIN_WIDTH:
        return 0
    return math.ceil(small / 18) * math.ceil(big / 27)


def resource_estimate(
    model: Any, input_shape: Any, config: HLSConfig | None = None
) -> dict[str, Any]:
    """Multiplications, DSPs, latency and initiation interval, without vendor tools.

    Pure PyTorch (hls4ml is not needed): the model runs once on zeros of ``input_shape`` and every
    ``Linear``/``Conv1d``/``Conv2d``/``BatchNorm``/activation/pooling leaf is recorded in order.

    Per layer (hls4ml name = module path with '_' for '.'):

    * ``mults``: products per inference (dense: n_in * n_out per position; conv: the kernel's
      C_in * k^d * C_out products at each output position), counting every weight;
    * ``mults_nonzero``: without the weights that are zero after quantisation to the layer's weight
      precision (constant-zero products are removed by HLS, as hls4ml's ``n_zeros`` removes exact
      zeros; with AP_TRN weights in [0, 2^-F) become zero);
    * ``dsp``: hls4ml's multiplier limit ``ceil(n_mult / R) - floor(n_zero / R)`` for the layer's
      kernel (dense: n_in * n_out; conv: one output position, ParallelizationFactor 1) times the
      DSP48 slices per product (1 up to 18x27 bits); 0 when the narrower operand (weight or input
      data) has fewer than ``DSP_MIN_WIDTH`` = 10 bits: such products go to LUTs
      (``lut_mults`` counts them). BatchNorm directly after a dense/conv layer is folded into it
      (hls4ml's fuse pass) and costs nothing.

    Latency model (Latency strategy, io_parallel, clock cycles)::

        L = sum_dense (R_l + 2) + sum_conv (P_l * R_l + 2) + sum_other 1

    with R_l the layer's reuse factor, P_l the number of output positions of a conv layer and
    "other" the activations, pooling layers and unfolded batch norms (1 cycle each). The +2 is the
    multiplier register and the adder tree, which hls4ml schedules in one to a few cycles at 200 MHz
    (hls4ml synthesis reports show 1-5 cycles per dense layer at R = 1). Initiation interval:
    ``max_l R_l`` for dense-only nets, ``max_l P_l R_l`` with conv layers. The Resource strategy
    is estimated the same way. A synthesis (vivado_hls) report supersedes all of this.
    """
    config = config or HLSConfig()
    shapes = _input_shape(input_shape)
    if isinstance(shapes, list):
        raise NotImplementedError("resource_estimate takes single-input models")
    layers = _layer_rows(_record_leaves(model, shapes), config)
    total = {k: int(sum(row.get(k, 0) for row in layers))
             for k in ("mults", "mults_nonzero", "dsp", "dsp_all_weights", "lut_mults",
                       "latency_cycles")}
    interval = max((row["interval"] for row in layers), default=1)
    dense = [row for row in layers if row["class"] == "Linear"]
    arch = [dense[0]["n_in"], *[row["n_out"] for row in dense]] if dense else []
    out: dict[str, Any] = {
        "precision": config.precision,
        "reuse_factor": config.reuse_factor,
        "strategy": config.strategy,
        "clock_period_ns": config.clock_period,
        "part": config.part,
        **total,
        "latency_ns": total["latency_cycles"] * config.clock_period,
        "initiation_interval": int(interval),
        "dense_widths": arch,
        "layers": layers,
        "latency_model": "L = sum_dense (R + 2) + sum_conv (P*R + 2) + sum_other 1 cycles",
        "dsp_model": f"ceil(n_mult/R) - floor(n_zero/R) per layer; products narrower than "
                     f"{DSP_MIN_WIDTH} bits on either operand go to LUTs",
    }
    if arch == [16, 64, 32, 32, 5]:
        out["paper"] = PAPER_FIGURES
    return out


def _record_leaves(model: Any, shapes: Any) -> list[tuple[str, Any, tuple[int, ...], tuple[int, ...]]]:
    """Run a float CPU copy of ``model`` once on zeros of ``shapes``; every leaf layer that
    :func:`resource_estimate` counts, in call order: (module path, module, input shape, output shape)."""
    import torch
    from torch import nn

    m = copy.deepcopy(model).cpu().float().eval()
    records: list[tuple[str, Any, tuple[int, ...], tuple[int, ...]]] = []
    leaves = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU,
              nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.SELU, nn.GELU,
              nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
    hooks = []
    for name, mod in m.named_modules():
        if isinstance(mod, leaves):
            def hook(mod: Any, inp: Any, out: Any, name: str = name) -> None:
                records.append((name, mod, tuple(inp[0].shape), tuple(out.shape)))

            hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            m(torch.zeros((1, *shapes)))
    finally:
        for h in hooks:
            h.remove()
    return records


def _layer_rows(
    records: list[tuple[str, Any, tuple[int, ...], tuple[int, ...]]], config: HLSConfig
) -> list[dict[str, Any]]:
    """One row per recorded layer (see :func:`resource_estimate`); a layer's input precision is
    the previous layer's result precision."""
    from torch import nn

    data_prec = config.precision
    layers: list[dict[str, Any]] = []
    prev_weighted = False
    for name, mod, in_shape, out_shape in records:
        key = _layer_key(name)
        row: dict[str, Any] = {"name": key, "class": type(mod).__name__}
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            row.update(_weighted_row(mod, key, in_shape, out_shape, data_prec, config))
            prev_weighted = True
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            folded = prev_weighted
            n = int(mod.num_features)
            row.update(folded=folded, mults=0 if folded else n, mults_nonzero=0 if folded else n,
                       dsp=0, latency_cycles=0 if folded else ACTIVATION_CYCLES, interval=1)
            prev_weighted = False
        else:
            row.update(mults=0, mults_nonzero=0, dsp=0, latency_cycles=ACTIVATION_CYCLES,
                       interval=1)
            prev_weighted = False
        data_prec = config.precision_of(key, "result")
        layers.append(row)
    return layers


def _weighted_row(
    mod: Any, key: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], data_prec: str, config: HLSConfig
) -> dict[str, Any]:
    """Products, zero weights, DSPs and latency of one dense or conv layer."""
    from torch import nn

    r = config.reuse_of(key)
    w = mod.weight.detach().numpy()
    w_prec = config.precision_of(key, "weight")
    if isinstance(mod, nn.Linear):
        positions = int(np.prod(in_shape[1:-1])) if len(in_shape) > 2 else 1
        kernel = w.size  # n_in * n_out
        cycles = r + DENSE_PIPELINE_CYCLES
        interval = r
    else:
        positions = int(np.prod(out_shape[2:]))
        kernel = w.size  # C_out * C_in/groups * k^d
        cycles = positions * r + DENSE_PIPELINE_CYCLES
        interval = positions * r
    zeros_q = int(_quantised_zero(w, w_prec).sum())
    zeros_f = int((w == 0).sum())
    w_bits, x_bits = parse_precision(w_prec)[0], parse_precision(data_prec)[0]
    per = _dsp_per_product(w_bits, x_bits)
    limit = math.ceil(kernel / r) - zeros_q // r
    return dict(
        reuse_factor=r,
        weight_precision=w_prec,
        input_precision=data_prec,
        n_in=int(w.shape[1] * (np.prod(w.shape[2:]) if w.ndim > 2 else 1)),
        n_out=int(w.shape[0]),
        positions=positions,
        mults=int(kernel * positions),
        mults_nonzero=int((kernel - zeros_q) * positions),
        zero_weights=zeros_q,
        zero_weights_float=zeros_f,
        multiplier_limit=int(limit),
        dsp=int(limit * per),
        dsp_all_weights=int(math.ceil(kernel / r) * per),
        lut_mults=int(limit if per == 0 else 0),
        latency_cycles=int(cycles),
        interval=int(interval),
    )
