"""hls4ml export options (:class:`HLSConfig`), the handle of a converted model, ap_fixed precision
parsing and the published figures the estimates are checked against."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from colliderlab.configs import from_dict

__all__ = ["HLSConfig", "VALID_BACKENDS", "VALID_STRATEGIES", "VALID_IO_TYPES", "PAPER_FIGURES", "parse_precision"]


VALID_BACKENDS: tuple[str, ...] = ("Vivado", "Vitis")
"""Backends whose firmware compiles with g++ here (ap_types ship with hls4ml)."""
VALID_STRATEGIES: tuple[str, ...] = ("Latency", "Resource")
VALID_IO_TYPES: tuple[str, ...] = ("io_parallel", "io_stream")
PRECISION_KEYS: tuple[str, ...] = ("weight", "bias", "result", "accum")

DSP_MIN_WIDTH = 10
"""Products whose narrower operand has fewer bits than this are assumed to be built from LUTs."""
DENSE_PIPELINE_CYCLES = 2
"""Latency model: cycles a dense/conv layer adds beyond its reuse factor (product + adder tree)."""
ACTIVATION_CYCLES = 1
"""Latency model: cycles of an activation, pooling or un-folded batch-norm layer."""

PAPER_FIGURES: dict[str, Any] = {
    "network": "16-64-32-32-5, ReLU, softmax output; 4,389 parameters",
    "reference": "Duarte et al., arXiv:1804.06913 (JINST 13 (2018) P07027)",
    "part": "xcku115-flvb2104-2-i (Kintex UltraScale), 200 MHz (5 ns clock)",
    "latency": {
        "value": "on the scale of 100 ns",
        "source": "paper abstract, as stored at https://www.alphaxiv.org/?organizations=HawkEye360 "
                  "and https://deepai.org/publication/fast-inference-of-deep-neural-networks-in-"
                  "fpgas-for-particle-physics",
    },
    "latency_clock_cycles": "not found",
    "dsp_reuse_1": "not found",
    "dsp_other_reuse_factors": "not found",
    "initiation_interval": "not found",
    "related_hls4ml_synthesis_reports": [
        {
            "what": "3-layer jet model, ReuseFactor 1, Vivado HLS during hls4ml development "
                    "(not the paper's table): latency 59 clock cycles, interval 1, of which the "
                    "softmax took 34 and the dense layers 3-5 each",
            "source": "https://github.com/fastmachinelearning/hls4ml/issues/20",
        },
        {
            "what": "KERAS_3layer_batch_norm, Vivado 2017.2, xcku115-flvb2104-2-i: latency 23 "
                    "clock cycles, interval 1, dense layers 1 cycle each",
            "source": "https://github.com/fastmachinelearning/hls4ml/pull/72",
        },
        {
            "what": "softmax of the 50%-pruned three-layer example: 35 -> 8 clock cycles with an "
                    "inverse lookup table",
            "source": "https://github.com/fastmachinelearning/hls4ml/pull/42",
        },
        {
            "what": "DSP usage of a dense layer goes as (number of multiplications)/(reuse "
                    "factor); zero weights remove multipliers (hls4ml writes "
                    "multiplier_limit = DIV_ROUNDUP(n_in*n_out, R) - n_zeros/R in parameters.h)",
            "source": "https://github.com/fastmachinelearning/hls4ml/issues/17 and the "
                      "firmware/parameters.h that hls4ml 1.3.0 writes",
        },
    ],
}
"""Published figures for the hls4ml jet tagger; "not found" where no stored source gave one."""

_PRECISION_RE = re.compile(
    r"^(?:ap_)?(?P<kind>u?fixed|u?int)<\s*(?P<w>\d+)\s*(?:,\s*(?P<i>-?\d+)\s*)?"
    r"(?:,\s*[A-Za-z_]+\s*)*(?:,\s*\d+\s*)?>$"
)


def parse_precision(p: str) -> tuple[int, int, bool]:
    """``"ap_fixed<16,6>"`` -> (width 16, integer bits 6, signed True); ints have I = W.

    Raises ValueError for anything that is not an (ap_)(u)fixed<W,I,...> or (ap_)(u)int<W>.
    """
    m = _PRECISION_RE.match(str(p).strip())
    if not m:
        raise ValueError(
            f"precision {p!r} is not of the form ap_fixed<W,I>, ap_ufixed<W,I> or ap_int<W>"
        )
    kind, w = m["kind"], int(m["w"])
    if w < 1:
        raise ValueError(f"precision {p!r} needs a width W >= 1")
    if "fixed" in kind:
        if m["i"] is None:
            raise ValueError(f"precision {p!r} needs both W and I, e.g. ap_fixed<16,6>")
        return w, int(m["i"]), not kind.startswith("u")
    if m["i"] is not None:
        raise ValueError(f"precision {p!r}: an integer type takes one width, e.g. ap_int<8>")
    return w, w, not kind.startswith("u")


def _layer_key(name: str) -> str:
    return str(name).replace(".", "_")


def _choice(value: str, valid: Sequence[str], what: str, plural: str) -> str:
    for v in valid:
        if str(value).lower() == v.lower():
            return v
    raise ValueError(f"unknown {what} {value!r}; valid {plural}: {', '.join(valid)}")


@dataclass(frozen=True)
class HLSConfig:
    """How to build the firmware.

    ``layer_precision`` maps an hls4ml layer name (``net_0``, or the module path ``net.0``) to one
    precision string (applied to its weight, bias and result) or to a mapping with some of the keys
    ``weight``, ``bias``, ``result``, ``accum``. ``layer_reuse`` maps layer names to reuse factors.
    Everything not overridden uses ``precision`` and ``reuse_factor``. ``part`` defaults to the
    Kintex UltraScale of the hls4ml paper, ``clock_period`` is in ns.
    """

    precision: str = "ap_fixed<16,6>"
    layer_precision: Mapping[str, Any] = field(default_factory=dict)
    reuse_factor: int = 1
    layer_reuse: Mapping[str, int] = field(default_factory=dict)
    strategy: str = "Latency"
    io_type: str = "io_parallel"
    backend: str = "Vivado"
    part: str = "xcku115-flvb2104-2-i"
    clock_period: float = 5.0
    output_dir: str = "hls4ml_prj"
    project_name: str = "tagger"

    def __post_init__(self) -> None:
        parse_precision(self.precision)
        for name, valid, plural in (("strategy", VALID_STRATEGIES, "strategies"),
                                    ("backend", VALID_BACKENDS, "backends"),
                                    ("io_type", VALID_IO_TYPES, "io_types")):
            object.__setattr__(self, name, _choice(getattr(self, name), valid, name, plural))
        r = self.reuse_factor
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ValueError(f"reuse_factor must be an integer >= 1, got {self.reuse_factor!r}")
        if not float(self.clock_period) > 0:
            raise ValueError(f"clock_period must be > 0 ns, got {self.clock_period!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(self.project_name)):
            raise ValueError(f"project_name must be a C identifier, got {self.project_name!r}")
        if not isinstance(self.layer_precision, Mapping):
            raise TypeError("layer_precision must map layer names to a precision or a mapping")
        if not isinstance(self.layer_reuse, Mapping):
            raise TypeError("layer_reuse must map layer names to reuse factors")
        precisions: dict[str, dict[str, str]] = {}
        for name, spec in self.layer_precision.items():
            if isinstance(spec, str):
                spec = {"weight": spec, "bias": spec, "result": spec}
            if not isinstance(spec, Mapping):
                raise TypeError(
                    f"layer_precision[{name!r}] must be a precision string or a mapping with keys "
                    f"{', '.join(PRECISION_KEYS)}"
                )
            bad = [k for k in spec if k not in PRECISION_KEYS]
            if bad:
                raise ValueError(
                    f"layer_precision[{name!r}] has unknown key(s) {bad}; valid keys: "
                    f"{', '.join(PRECISION_KEYS)}"
                )
            for p in spec.values():
                parse_precision(p)
            precisions[_layer_key(name)] = {k: str(v) for k, v in spec.items()}
        reuse: dict[str, int] = {}
        for name, r in self.layer_reuse.items():
            if not isinstance(r, int) or isinstance(r, bool) or r < 1:
                raise ValueError(f"layer_reuse[{name!r}] must be an integer >= 1, got {r!r}")
            reuse[_layer_key(name)] = r
        object.__setattr__(self, "layer_precision", precisions)
        object.__setattr__(self, "layer_reuse", reuse)
        object.__setattr__(self, "clock_period", float(self.clock_period))
        object.__setattr__(self, "output_dir", str(self.output_dir))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "") -> HLSConfig:
        """Build from a (YAML) mapping (:func:`colliderlab.configs.from_dict`); unknown keys are an
        error naming them and the valid ones, ``where`` names the mapping in errors."""
        return from_dict(cls, d, where)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> HLSConfig:
        """Read a YAML file (a mapping of the fields of this class; empty gives the defaults)."""
        import yaml

        with open(path) as f:
            return cls.from_dict(yaml.safe_load(f) or {})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layer_precision"] = {k: dict(v) for k, v in self.layer_precision.items()}
        d["layer_reuse"] = dict(self.layer_reuse)
        return d

    def precision_of(self, layer: str, key: str) -> str:
        """The precision of ``key`` (weight/bias/result/accum) of ``layer`` under this config."""
        return self.layer_precision.get(_layer_key(layer), {}).get(key, self.precision)

    def reuse_of(self, layer: str) -> int:
        return self.layer_reuse.get(_layer_key(layer), self.reuse_factor)


