"""Fixed-point numbers and quantisation-aware training layers.

Numbers follow the ``ap_fixed<W, I>`` convention of FPGA firmware (and of hls4ml,
arXiv:1804.06913): ``W`` bits in all, ``I`` of them integer bits including the sign, so values
are multiples of ``2^-(W - I)`` in ``[-2^(I-1), 2^(I-1) - 2^-(W-I)]``. Rounding is
``round`` (to nearest, AP_RND_CONV-like) or ``trunc`` (towards minus infinity, AP_TRN: the
hls4ml default); overflow saturates (AP_SAT) or wraps (AP_WRAP).

Quantisation-aware training (QAT) puts the rounding in the forward pass with a straight-through
gradient (arXiv:2006.10159 trains hls4ml's jet tagger this way), so the trainer of
:mod:`colliderlab.train` learns weights that survive it:

    prepare_qat(model, QuantConfig("ap_fixed<8,2>", "ap_fixed<10,5>"))    # in place, then train

Post-training quantisation sweeps (which need a trained model and its metrics) are in
:mod:`colliderlab.export.quantize`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from colliderlab.configs import from_dict

__all__ = [
    "FixedPoint",
    "QuantConfig",
    "quantize_tensor",
    "prepare_qat",
    "QUANTIZED_MODULES",
]

ROUNDING = ("round", "trunc")
_FORMAT = re.compile(r"^\s*ap_(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*)?(?:,\s*(\w+)\s*)?>\s*$")


@dataclass(frozen=True)
class FixedPoint:
    """A signed fixed-point format ``ap_fixed<width, integer>``.

    Attributes:
        width: total bits W (sign included), 2..64.
        integer: integer bits I (sign included); may exceed W or be negative, as in ap_fixed.
        rounding: ``"round"`` (nearest) or ``"trunc"`` (floor, hls4ml's default AP_TRN).
        saturate: clamp at the range ends (AP_SAT) instead of wrapping around (AP_WRAP).
    """

    width: int
    integer: int
    rounding: str = "round"
    saturate: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.width <= 64:
            raise ValueError(f"fixed-point width must be in 2..64, got {self.width}")
        if self.rounding not in ROUNDING:
            raise ValueError(f"rounding {self.rounding!r} is not valid; choose one of {', '.join(ROUNDING)}")

    @property
    def step(self) -> float:
        """The least significant bit, 2^-(W - I)."""
        return 2.0 ** (self.integer - self.width)

    @property
    def low(self) -> float:
        return -(2.0 ** (self.integer - 1))

    @property
    def high(self) -> float:
        return 2.0 ** (self.integer - 1) - self.step

    @classmethod
    def parse(cls, text: str | FixedPoint) -> FixedPoint:
        """``"ap_fixed<16,6>"`` (optionally ``,AP_RND,AP_SAT`` / ``AP_TRN,AP_WRAP``) -> FixedPoint."""
        if isinstance(text, FixedPoint):
            return text
        m = _FORMAT.match(str(text))
        if not m or m.group(1):
            raise ValueError(f"{text!r} is not a signed fixed-point format like 'ap_fixed<16,6>'")
        mode, overflow = (m.group(4) or "AP_TRN").upper(), (m.group(5) or "AP_WRAP").upper()
        return cls(int(m.group(2)), int(m.group(3)), "trunc" if mode == "AP_TRN" else "round",
                   overflow.startswith("AP_SAT"))

    def __str__(self) -> str:
        mode = "AP_TRN" if self.rounding == "trunc" else "AP_RND_CONV"
        return f"ap_fixed<{self.width},{self.integer},{mode},{'AP_SAT' if self.saturate else 'AP_WRAP'}>"


def quantize_tensor(x: Any, fmt: FixedPoint) -> Any:
    """Round a torch tensor (any shape) to ``fmt``; returns a tensor of the same dtype."""
    import torch

    scaled = x / fmt.step
    q = torch.floor(scaled) if fmt.rounding == "trunc" else torch.round(scaled)
    n = 2.0 ** (fmt.width - 1)  # the integer codes span [-n, n - 1]
    if fmt.saturate:
        q = q.clamp(-n, n - 1)
    else:
        q = torch.remainder(q + n, 2 * n) - n
    return q * fmt.step


class _RoundSTE:
    """Rounding with a straight-through gradient (identity inside the range, 0 outside when
    saturating)."""

    @staticmethod
    def apply(x: Any, fmt: FixedPoint) -> Any:
        q = quantize_tensor(x.detach(), fmt)
        if fmt.saturate:
            inside = ((x >= fmt.low) & (x <= fmt.high)).to(x.dtype)
            return q + (x - x.detach()) * inside
        return q + (x - x.detach())


@dataclass(frozen=True)
class QuantConfig:
    """Formats for quantisation-aware training (saved in checkpoints as ``quantization``).

    ``weights`` applies to every weight and bias of the quantised modules, ``activations`` to
    their outputs. Strings are ap_fixed formats, e.g. ``"ap_fixed<8,2>"``.
    """

    weights: str = "ap_fixed<8,2>"
    activations: str = "ap_fixed<10,5>"

    def __post_init__(self) -> None:
        FixedPoint.parse(self.weights)
        FixedPoint.parse(self.activations)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "") -> QuantConfig:
        """From a mapping with keys ``weights`` and ``activations`` (:func:`colliderlab.configs.from_dict`);
        ``where`` names it in errors (e.g. ``"quantization"`` of an experiment)."""
        return from_dict(cls, d, where)


def _quantised_types() -> tuple[type, ...]:
    from torch import nn

    return (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _activation_types() -> tuple[type, ...]:
    from torch import nn

    return (nn.ReLU, nn.GELU, nn.SELU, nn.ELU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid,
            nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


QUANTIZED_MODULES = "Linear, Conv1d/2d/3d (weights, biases, outputs); activations and norms (outputs)"


def _qat_classes() -> tuple[type, type, type]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class QuantLinear(nn.Linear):
        """``nn.Linear`` whose weight, bias and output are rounded in the forward pass
        (straight-through gradients). Same parameters and state-dict keys as ``nn.Linear``."""

        def __init__(self, in_f: int, out_f: int, bias: bool, wfmt: FixedPoint, afmt: FixedPoint) -> None:
            super().__init__(in_f, out_f, bias)
            self.wfmt, self.afmt = wfmt, afmt

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            w = _RoundSTE.apply(self.weight, self.wfmt)
            b = _RoundSTE.apply(self.bias, self.wfmt) if self.bias is not None else None
            return _RoundSTE.apply(F.linear(x, w, b), self.afmt)  # (..., out)

        def extra_repr(self) -> str:
            return f"{super().extra_repr()}, weights={self.wfmt}, outputs={self.afmt}"

    class QuantConv2d(nn.Conv2d):
        """``nn.Conv2d`` with rounded weight, bias and output (straight-through gradients)."""

        def __init__(self, conv: nn.Conv2d, wfmt: FixedPoint, afmt: FixedPoint) -> None:
            super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                             conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                             conv.padding_mode)
            self.wfmt, self.afmt = wfmt, afmt

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            w = _RoundSTE.apply(self.weight, self.wfmt)
            b = _RoundSTE.apply(self.bias, self.wfmt) if self.bias is not None else None
            return _RoundSTE.apply(self._conv_forward(x, w, b), self.afmt)  # (B, C, H, W)

    class OutputQuant(nn.Module):
        """Wraps a parameter-free or norm module and rounds its output (keeps its state keys)."""

        def __init__(self, inner: nn.Module, afmt: FixedPoint) -> None:
            super().__init__()
            self.inner, self.afmt = inner, afmt

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return _RoundSTE.apply(self.inner(x), self.afmt)

    return QuantLinear, QuantConv2d, OutputQuant


def _refuse_subclass(name: str, module: Any, ours: tuple[type, ...]) -> None:
    """A subclass of Linear/Conv2d (a masked autoregressive layer, say) has a forward of its own that
    the quantised twin would silently drop: refuse it, naming the module."""
    from torch import nn

    for base in (nn.Linear, nn.Conv2d):
        if isinstance(module, base) and type(module) is not base and not isinstance(module, ours):
            raise ValueError(
                f"quantisation-aware training replaces plain {base.__name__} layers; module {name!r} is a "
                f"{type(module).__module__}.{type(module).__name__}, a {base.__name__} subclass with its own "
                "forward (e.g. a masked autoregressive layer), which would be lost"
            )


def prepare_qat(model: Any, config: QuantConfig) -> Any:
    """Make ``model`` quantisation-aware, in place: every ``Linear``/``Conv2d`` becomes its
    quantised twin (same parameters and state-dict keys) and every activation module rounds its
    output. Returns ``model``; train it with the normal trainer.

    Raises:
        ValueError: the model has no Linear/Conv2d module to quantise, or one is a subclass with a
            forward of its own (the flows' masked layers), which the quantised twin would drop.
    """
    from torch import nn

    QuantLinear, QuantConv2d, OutputQuant = _qat_classes()
    wfmt, afmt = FixedPoint.parse(config.weights), FixedPoint.parse(config.activations)
    act_types = tuple(t for t in _activation_types() if not issubclass(t, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)))
    replaced = 0

    def visit(parent: nn.Module, prefix: str = "") -> None:
        nonlocal replaced
        for name, child in list(parent.named_children()):
            _refuse_subclass(f"{prefix}{name}", child, (QuantLinear, QuantConv2d))
            if isinstance(child, nn.Linear) and not isinstance(child, QuantLinear):
                q = QuantLinear(child.in_features, child.out_features, child.bias is not None, wfmt, afmt)
                q.load_state_dict(child.state_dict())
                setattr(parent, name, q)
                replaced += 1
            elif isinstance(child, nn.Conv2d) and not isinstance(child, QuantConv2d):
                q = QuantConv2d(child, wfmt, afmt)
                q.load_state_dict(child.state_dict())
                setattr(parent, name, q)
                replaced += 1
            elif isinstance(child, act_types):
                setattr(parent, name, OutputQuant(child, afmt))
            else:
                visit(child, f"{prefix}{name}.")

    visit(model)
    if not replaced:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d module to quantise")
    model.quantization = config
    return model
