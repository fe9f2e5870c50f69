"""hls4ml conversion, bit-accurate C++ emulation and pre-synthesis resource estimates.

hls4ml (Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics",
arXiv:1804.06913) translates a trained network into a High-Level-Synthesis C++ project for an FPGA.
This module

* converts a PyTorch model with hls4ml's PyTorch frontend (:func:`convert`), writes the complete
  HLS project (``build_prj.tcl``, ``firmware/``, weights as headers) so that a user with the vendor
  tools (Vivado/Vitis HLS) can synthesise it, and compiles the same firmware sources with ``g++``
  into a shared library: a bit-accurate emulation of the fixed-point firmware (``ap_fixed<W,I>``
  arithmetic, truncation and wrap-around as in the synthesised design);
* runs jets through that library (:func:`emulate`, hls4ml's own ``predict``; nothing is rounded
  in numpy) and compares emulated with floating-point scores (:func:`compare`);
* estimates multiplications, DSPs, latency and initiation interval without vendor tools
  (:func:`resource_estimate`), beside the figures published for the same network;
* exports a trained run directory (:func:`export_hls_run`).

Shapes: ``input_shape`` excludes the batch axis: ``(F,)`` for a dense net on F features,
``(C, H, W)`` (PyTorch's channels-first layout) for a CNN on jet images. :func:`emulate` takes
``x`` of shape ``(N, *input_shape)`` and returns ``(N, n_outputs)`` float64 outputs (the logits of
the colliderlab models, which have no softmax layer).

What converts (hls4ml 1.3.0, PyTorch frontend, io_parallel, Vivado backend; checked by running it):

* dense nets: the ``dnn`` presets (``hls4ml``; ``paper``/``lite`` with BatchNorm1d, which hls4ml
  folds into the preceding dense layer) and ``nsub_dnn``;
* small CNNs: the registry ``cnn`` with small dimensions (its ``nn.ZeroPad2d`` "same" padding is
  swapped for the identical ``nn.ConstantPad2d(..., 0.0)``, which hls4ml supports; the class name
  ``ZeroPad2d`` is not in its list). Checked on 8x8 images with 4 filters; the 40x40 presets
  (``lite``, ``deeptop``, ``paper``) were not tried: their firmware grows with the image and the
  filter count;
* not the interaction network (JEDI-net, ``interaction_net``): its forward uses ``Tensor.bool``,
  ``torch.eye``, boolean masks (``&``, ``~``), ``Tensor.to``, reads of ``.shape``/``.device`` and
  SELU, which hls4ml's PyTorch frontend has no handler for; :func:`convert` raises
  :class:`NotImplementedError` naming each. (A mask-free rewrite still fails: ``torch.sum`` over
  the particle axis is unsupported, and hls4ml's einsum rejects a contraction with a constant
  vector.) This package offers no other route for it.

The colliderlab models call an input-shape check in ``forward`` that torch.fx cannot trace; the
check is dropped from the traced graph (the registry CNN, which has a second check, is rebuilt as
``features -> Flatten -> head``). hls4ml layer names are the PyTorch module paths with dots
replaced by underscores (``net.0`` -> ``net_0``); per-layer overrides accept either spelling.

hls4ml is imported inside the functions that need it, so the package imports without it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_json

__all__ = [
    "HLSConfig",
    "HLSHandle",
    "VALID_BACKENDS",
    "VALID_STRATEGIES",
    "VALID_IO_TYPES",
    "PAPER_FIGURES",
    "hls4ml_available",
    "parse_precision",
    "convert",
    "emulate",
    "compare",
    "resource_estimate",
    "export_hls_run",
]

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
    def from_dict(cls, d: Mapping[str, Any]) -> HLSConfig:
        """Build from a (YAML) mapping; unknown keys are an error naming them and the valid ones."""
        if not isinstance(d, Mapping):
            raise TypeError(f"an HLS config must be a mapping, got {type(d).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in d if k not in valid]
        if unknown:
            raise KeyError(
                f"unknown HLS config key(s) {', '.join(map(repr, unknown))}; valid keys: "
                f"{', '.join(valid)}"
            )
        return cls(**dict(d))

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


@dataclass
class HLSHandle:
    """A converted (and normally compiled) hls4ml model.

    ``layers`` lists, per hls4ml layer, its name, class, reuse factor and precisions as hls4ml
    applied them (hls4ml may change an invalid reuse factor to the nearest valid one).
    """

    hls_model: Any
    config: HLSConfig
    input_shape: tuple[int, ...]
    output_dir: Path
    layers: list[dict[str, Any]]
    hls4ml_version: str
    source: str
    compiled: bool

    def predict(self, x: np.ndarray) -> np.ndarray:
        return emulate(self, x)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "hls4ml_version": self.hls4ml_version,
            "input_shape": list(self.input_shape),
            "output_dir": str(self.output_dir),
            "compiled": self.compiled,
            "config": self.config.to_dict(),
            "layers": self.layers,
        }


# --------------------------------------------------------------------------- availability


def hls4ml_available() -> tuple[bool, str]:
    """(True, "") when hls4ml imports and g++ is on PATH; else (False, the reason)."""
    try:
        import hls4ml  # noqa: F401
    except Exception as err:  # ImportError or a broken install
        return False, f"hls4ml is not importable ({err}); pip install hls4ml"
    if shutil.which("g++") is None:
        return False, "g++ is not on PATH; hls4ml compiles its C++ emulation with g++"
    return True, ""


def _require_hls4ml() -> Any:
    try:
        import hls4ml
    except ImportError as err:
        raise ImportError(
            "colliderlab.export.hls needs hls4ml (pip install hls4ml); it converts PyTorch models "
            "and compiles their bit-accurate C++ emulation"
        ) from err
    return hls4ml


def _pytorch_frontend() -> Any:
    import importlib

    # ``hls4ml.converters.pytorch_to_hls`` as an attribute is a function of the same name
    return importlib.import_module("hls4ml.converters.pytorch_to_hls")


# --------------------------------------------------------------------------- model preparation


def _input_shape(input_shape: Any) -> tuple[int, ...] | list[tuple[int, ...]]:
    if isinstance(input_shape, int):
        return (int(input_shape),)
    if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
        return [tuple(int(s) for s in shp) for shp in input_shape]
    return tuple(int(s) for s in input_shape)


def _swap_zero_pads(module: Any) -> None:
    """Replace every nn.ZeroPad1d/2d by the identical ConstantPad (which hls4ml converts)."""
    from torch import nn

    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.ZeroPad2d:
                setattr(parent, name, nn.ConstantPad2d(child.padding, 0.0))
            elif type(child).__name__ == "ZeroPad1d":
                setattr(parent, name, nn.ConstantPad1d(child.padding, 0.0))


def _cnn_adapter(model: Any) -> Any:
    """The registry CNN as ``features -> Flatten -> head`` (same module names, no shape checks)."""
    from torch import nn

    class CNNGraph(nn.Module):
        def __init__(self, features: nn.Module, head: nn.Module) -> None:
            super().__init__()
            self.features = features
            self.flatten = nn.Flatten()
            self.head = head

        def forward(self, image: Any) -> Any:
            return self.head(self.flatten(self.features(image)))

    return CNNGraph(model.features, model.head)


def _tracer_class() -> type:
    import torch

    from colliderlab.nn.layers import check_input

    class Tracer(torch.fx.Tracer):
        """hls4ml's leaf rule (torch.nn modules but Sequential); ``check_input`` kept opaque."""

        def __init__(self) -> None:
            super().__init__(autowrap_functions=(check_input,))

        def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
            mod = type(m).__module__
            leaf = mod.startswith(("torch.nn", "torch.ao.nn", "brevitas.nn"))
            return leaf and not isinstance(m, torch.nn.Sequential)

    return Tracer


def _static_graph(model: Any) -> Any:
    """A CPU float copy of ``model`` that torch.fx (and so hls4ml) can trace.

    Raises ValueError when ``forward`` has data-dependent Python control flow.
    """
    import torch

    from colliderlab.nn.layers import check_input

    m = copy.deepcopy(model).cpu().float().eval()
    if getattr(m, "model_name", None) == "cnn" and hasattr(m, "features") and hasattr(m, "head"):
        m = _cnn_adapter(m)
    _swap_zero_pads(m)
    try:
        graph = _tracer_class()().trace(m)
    except Exception as err:  # torch.fx.proxy.TraceError and friends
        raise ValueError(
            f"torch.fx cannot trace {type(model).__name__}.forward, which hls4ml's PyTorch "
            f"frontend needs: {err}. Remove data-dependent Python control flow (e.g. input "
            "checks) in a thin wrapper module or pass the plain sub-module (e.g. model.net)"
        ) from err
    gm = torch.fx.GraphModule(m, graph, class_name=type(m).__name__)
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target is check_input:
            gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()  # the shape reads that only fed the checks
    gm.recompile()
    gm.eval()
    return gm


def _unsupported_ops(gm: Any) -> list[str]:
    """Graph nodes hls4ml's PyTorch frontend has no handler for, grouped by operation."""
    front = _pytorch_frontend()
    supported = set(front.get_supported_pytorch_layers()) | {"Dropout", "Sequential"}
    name_map = front.layer_name_map
    modules = dict(gm.named_modules())
    found: dict[str, list[str]] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            cls = type(modules[node.target]).__name__
            if cls not in supported:
                found.setdefault(f"module {cls}", []).append(str(node.target))
        elif node.op in ("call_function", "call_method"):
            op = node.name
            if op.split("_")[-1].isdigit():
                op = "_".join(op.split("_")[:-1])
            op = name_map.get(op, op)
            if op == "getitem" or op in supported:
                continue
            if node.op == "call_method":
                what = f"Tensor.{node.target}"
            else:
                fn = node.target
                what = f"{getattr(fn, '__module__', '') or ''}.{getattr(fn, '__name__', fn)}"
                what = what.replace("_operator.", "operator.").lstrip(".")
                if what == "builtins.getattr" and len(node.args) > 1:
                    what = f"tensor attribute .{node.args[1]}"
            found.setdefault(what, []).append(node.name)
    return [f"{what} (at {', '.join(where)})" for what, where in found.items()]


# --------------------------------------------------------------------------- conversion


def _hls_config(
    hls4ml: Any, gm: Any, shapes: Any, config: HLSConfig
) -> tuple[dict[str, Any], list[str]]:
    """hls4ml's config dict (model granularity plus the per-layer overrides) and the names of the
    model's hls4ml layers."""
    with contextlib.redirect_stdout(io.StringIO()):
        names = list(
            hls4ml.utils.config_from_pytorch_model(
                gm, shapes, granularity="name", backend=config.backend,
                default_precision=config.precision,
            )["LayerName"]
        )
        cfg = hls4ml.utils.config_from_pytorch_model(
            gm, shapes, granularity="model", backend=config.backend,
            default_precision=config.precision, default_reuse_factor=config.reuse_factor,
        )
    cfg["Model"]["Strategy"] = config.strategy
    layer_cfg: dict[str, dict[str, Any]] = {}
    for name, spec in config.layer_precision.items():
        layer_cfg.setdefault(name, {})["Precision"] = dict(spec)
    for name, r in config.layer_reuse.items():
        layer_cfg.setdefault(name, {})["ReuseFactor"] = int(r)
    if layer_cfg:
        cfg["LayerName"] = layer_cfg
    cfg.pop("PytorchModel", None)
    return cfg, names


def _layer_table(hls_model: Any) -> list[dict[str, Any]]:
    rows = []
    for layer in hls_model.get_layers():
        row: dict[str, Any] = {"name": layer.name, "class": layer.class_name}
        r = layer.get_attr("reuse_factor")
        if r is not None:
            row["reuse_factor"] = int(r)
        prec = {}
        for tname, t in layer.types.items():
            key = tname[:-2] if tname.endswith("_t") else tname
            if key in PRECISION_KEYS:
                prec[key] = str(t.precision)
        row["precision"] = prec
        rows.append(row)
    return rows


def convert(
    model: Any,
    input_shape: Any,
    config: HLSConfig | None = None,
    *,
    compile: bool = True,
) -> HLSHandle:
    """Convert ``model`` with hls4ml, write the HLS project to ``config.output_dir`` and compile
    its bit-accurate emulation.

    Args:
        model: a ``torch.nn.Module`` (a colliderlab ``dnn``/``nsub_dnn``/small ``cnn``, or any
            module hls4ml's PyTorch frontend converts). It is copied; the original is untouched.
        input_shape: the input without the batch axis, e.g. ``(16,)`` or ``(1, 8, 8)``.
        config: precision, reuse, strategy, backend, part, clock and output settings.
        compile: compile the emulation library with g++ (``False`` only writes the project).

    Raises:
        ValueError: ``forward`` cannot be traced by torch.fx.
        NotImplementedError: the model uses a layer or operation hls4ml cannot convert (named).
        KeyError: a per-layer override names a layer the model lacks (the valid names listed).
        RuntimeError: the g++ compilation failed.
    """
    config = config or HLSConfig()
    hls4ml = _require_hls4ml()
    if compile and shutil.which("g++") is None:
        raise RuntimeError("g++ is not on PATH; hls4ml compiles its emulation library with it")
    shapes = _input_shape(input_shape)
    gm = _static_graph(model)
    name = type(model).__name__
    bad = _unsupported_ops(gm)
    if bad:
        raise NotImplementedError(
            f"hls4ml {hls4ml.__version__}'s PyTorch frontend cannot convert {name}: unsupported "
            f"operation(s): {'; '.join(bad)}. Supported layers/functions: "
            f"{', '.join(sorted(_pytorch_frontend().get_supported_pytorch_layers()))}"
        )
    log = io.StringIO()
    try:
        hls_cfg, names = _hls_config(hls4ml, gm, shapes, config)
    except Exception as err:
        raise NotImplementedError(
            f"hls4ml {hls4ml.__version__} could not parse {name}: {type(err).__name__}: {err}"
        ) from err
    unknown = sorted((set(config.layer_precision) | set(config.layer_reuse)) - set(names))
    if unknown:
        raise KeyError(
            f"per-layer override(s) for unknown layer(s) {unknown}; the hls4ml layers of this "
            f"model are: {', '.join(names)}"
        )
    try:
        with contextlib.redirect_stdout(log):
            hls_model = hls4ml.converters.convert_from_pytorch_model(
                gm,
                output_dir=str(config.output_dir),
                project_name=config.project_name,
                backend=config.backend,
                hls_config=hls_cfg,
                part=config.part,
                clock_period=config.clock_period,
                io_type=config.io_type,
            )
    except Exception as err:
        raise NotImplementedError(
            f"hls4ml {hls4ml.__version__} could not convert {name}: {type(err).__name__}: {err}"
        ) from err
    # hls4ml yaml-dumps its config, model object included, into hls4ml_config.yml; a traced
    # GraphModule does not serialise, and the weights are in firmware/weights/ anyway
    hls_model.config.config["PytorchModel"] = f"{name} (PyTorch, traced by colliderlab.export.hls)"
    try:
        with contextlib.redirect_stdout(log):
            if compile:
                hls_model.compile()  # writes the project, then builds the shared library
            else:
                hls_model.write()
    except Exception as err:
        raise RuntimeError(
            f"hls4ml could not {'compile' if compile else 'write'} the project of {name} in "
            f"{config.output_dir}: {err}\n{log.getvalue()[-2000:]}"
        ) from err
    return HLSHandle(
        hls_model=hls_model,
        config=config,
        input_shape=tuple(shapes) if isinstance(shapes, tuple) else tuple(shapes[0]),
        output_dir=Path(config.output_dir),
        layers=_layer_table(hls_model),
        hls4ml_version=str(hls4ml.__version__),
        source=name,
        compiled=compile,
    )


def emulate(handle: HLSHandle, x: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    """Outputs of the compiled fixed-point firmware for ``x`` (N, *input_shape) -> (N, n_out).

    The numbers come from hls4ml's ``predict``, i.e. the g++-compiled firmware sources: inputs are
    converted to the input ``ap_fixed`` type there, every product, sum and activation is computed in
    the firmware's types. Nothing is rounded in numpy.
    """
    if not handle.compiled:
        raise RuntimeError(
            "this handle was converted with compile=False; use convert(..., compile=True)"
        )
    x = np.ascontiguousarray(x, dtype=np.float32)
    if tuple(x.shape[1:]) != tuple(handle.input_shape):
        raise ValueError(
            f"emulate expects x of shape (N, {', '.join(map(str, handle.input_shape))}), "
            f"got {tuple(x.shape)}"
        )
    outs = []
    for start in range(0, len(x), batch_size):
        chunk = np.ascontiguousarray(x[start : start + batch_size])
        with contextlib.redirect_stdout(io.StringIO()):
            y = np.asarray(handle.hls_model.predict(chunk), dtype=np.float64)
        outs.append(y.reshape(len(chunk), -1))
    if not outs:
        return np.zeros((0, 0))
    return np.concatenate(outs)


# --------------------------------------------------------------------------- comparison


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def compare(
    float_scores: np.ndarray,
    emulated_scores: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    logits: bool = True,
) -> dict[str, Any]:
    """Floating-point vs emulated-firmware tagger performance on the same jets.

    With ``logits=True`` (the colliderlab models end in a linear layer) a softmax is applied to
    both the float logits and the emulated logits here, outside the firmware, in float64: the
    firmware itself has no softmax layer (in a trigger one cuts on a logit or the argmax). Pass
    ``logits=False`` for models whose output is already a probability (a softmax layer inside).

    Returns per class (one-vs-rest) the float and emulated AUC and their difference
    ``auc_loss = auc_float - auc_emulated``; the cross-entropy loss and accuracy of each; the
    fraction of jets with the same argmax; the largest absolute difference of the raw outputs and
    of the probabilities.
    """
    from colliderlab import metrics

    f = np.asarray(float_scores, dtype=np.float64)
    e = np.asarray(emulated_scores, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    if f.shape != e.shape or f.ndim != 2:
        raise ValueError(f"float and emulated scores must both be (N, C); got {f.shape}, {e.shape}")
    if len(y) != len(f):
        raise ValueError(f"{len(y)} labels for {len(f)} jets")
    if f.shape[1] != len(class_names):
        raise ValueError(f"{f.shape[1]} score columns but {len(class_names)} class names")
    pf, pe = (_softmax(f), _softmax(e)) if logits else (f, e)
    rows = np.arange(len(y))
    per_class: dict[str, dict[str, float]] = {}
    for k, name in enumerate(class_names):
        truth = y == k
        if truth.any() and not truth.all():
            a_f, a_e = metrics.auc(pf[:, k], truth), metrics.auc(pe[:, k], truth)
            per_class[str(name)] = {"auc_float": a_f, "auc_emulated": a_e, "auc_loss": a_f - a_e}
    losses = [v["auc_loss"] for v in per_class.values()]
    return {
        "n_jets": int(len(y)),
        "softmax_applied": bool(logits),
        "per_class": per_class,
        "mean_auc_float": float(np.mean([v["auc_float"] for v in per_class.values()]))
        if per_class else float("nan"),
        "mean_auc_emulated": float(np.mean([v["auc_emulated"] for v in per_class.values()]))
        if per_class else float("nan"),
        "max_auc_loss": float(max(losses)) if losses else float("nan"),
        "max_abs_auc_diff": float(max(abs(v) for v in losses)) if losses else float("nan"),
        "loss_float": float(-np.log(np.clip(pf[rows, y], 1e-12, None)).mean()),
        "loss_emulated": float(-np.log(np.clip(pe[rows, y], 1e-12, None)).mean()),
        "accuracy_float": float((pf.argmax(1) == y).mean()),
        "accuracy_emulated": float((pe.argmax(1) == y).mean()),
        "argmax_agreement": float((f.argmax(1) == e.argmax(1)).mean()),
        "max_abs_diff": float(np.abs(f - e).max()) if f.size else 0.0,
        "max_abs_diff_prob": float(np.abs(pf - pe).max()) if f.size else 0.0,
    }


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
    import torch
    from torch import nn

    config = config or HLSConfig()
    shapes = _input_shape(input_shape)
    if isinstance(shapes, list):
        raise NotImplementedError("resource_estimate takes single-input models")
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

    data_prec = config.precision
    layers: list[dict[str, Any]] = []
    prev_weighted = False
    for name, mod, in_shape, out_shape in records:
        key = _layer_key(name)
        r = config.reuse_of(key)
        row: dict[str, Any] = {"name": key, "class": type(mod).__name__}
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)):
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
            row.update(
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


# --------------------------------------------------------------------------- run directories


def _model_input_shape(model: Any) -> tuple[int, ...]:
    c = getattr(model, "config", None)
    name = getattr(model, "model_name", "")
    if name in ("dnn", "nsub_dnn") and c is not None:
        return (int(c.n_features),)
    if name == "cnn" and c is not None:
        return (int(c.in_channels), int(c.image_size), int(c.image_size))
    raise NotImplementedError(
        f"export_hls_run handles dense (dnn, nsub_dnn) and cnn runs; "
        f"{name or type(model).__name__} is not one hls4ml's PyTorch frontend converts here"
    )


def _labels_for(run: Any, ds: Any) -> np.ndarray:
    names = tuple(ds.class_names)
    if not names or names == tuple(run.class_names):
        return np.asarray(ds.labels)
    missing = [n for n in names if n not in run.class_names]
    if missing:
        raise ValueError(f"the data's classes {list(names)} include {missing} unknown to the model")
    lut = np.array([list(run.class_names).index(n) for n in names])
    return lut[np.asarray(ds.labels)]


def _float_outputs(model: Any, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    import torch

    model = model.cpu().float().eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            chunk = np.ascontiguousarray(x[s : s + batch_size])
            outs.append(model(torch.from_numpy(chunk)).numpy())
    return np.concatenate(outs).astype(np.float64)


def _trigger_view(f_out: np.ndarray, e_out: np.ndarray, labels: np.ndarray,
                  class_names: Sequence[str], precision: str) -> list[dict[str, Any]]:
    """Each class against the rest at fixed background rates, float vs emulated softmax."""
    from colliderlab.export.trigger import compare_rates

    pf, pe = _softmax(f_out), _softmax(e_out)
    rows = []
    for k, name in enumerate(class_names):
        y = labels == k
        if y.any() and not y.all():
            for r in compare_rates({"float": pf[:, k], precision: pe[:, k]}, y):
                rows.append({"signal": name, **r})
    return rows


def export_hls_run(
    run_dir: str | os.PathLike,
    config: HLSConfig | None = None,
    data: str | os.PathLike | None = None,
    out_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Convert a trained ``dnn``/``nsub_dnn``/``cnn`` run to firmware.

    Writes ``OUT/hls4ml/`` (``OUT`` = ``out_dir`` or ``RUN_DIR/export``; the HLS project, built in
    a temporary folder, then moved in place) and ``OUT/hls4ml.json`` (written to a temporary file,
    then ``os.replace``d) holding the conversion summary, the resource estimate and, with ``data``
    (any jet file), the float-vs-emulation comparison on its jets and the trigger-rate view
    (:mod:`colliderlab.export.trigger`: each class against the rest at 100 kHz and 1 MHz out of
    40 MHz, float vs emulated scores). ``config.output_dir`` is ignored. Returns the summary.
    """
    from colliderlab.features.build import build_dataset
    from colliderlab.train.experiment import load_run

    config = config or HLSConfig()
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    if run.is_baseline:
        raise ValueError(f"{run_dir} holds a {run.model_name!r} baseline, not a torch model")
    if run.target:
        raise ValueError(f"{run_dir} is a regression run; export_hls_run exports classifiers")
    shape = _model_input_shape(run.model)
    export = Path(out_dir) if out_dir else run_dir / "export"
    export.mkdir(parents=True, exist_ok=True)
    final = export / "hls4ml"
    tmp = export / f".hls4ml.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    handle = convert(run.model, shape, dataclasses.replace(config, output_dir=str(tmp)))
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "model_name": run.model_name,
        "class_names": list(run.class_names),
        **handle.summary(),
        "output_dir": str(final),
        "resource_estimate": resource_estimate(run.model, shape, config),
    }
    summary["config"]["output_dir"] = str(final)
    if data is not None:
        ds, _ = build_dataset(data, run.representation)
        labels = _labels_for(run, ds)
        arrays = run.standardizer.apply(ds.arrays)
        x = arrays[run.model.input_names[0]]
        summary["data"] = str(data)
        f_out, e_out = _float_outputs(run.model, x), emulate(handle, x)
        summary["compare"] = compare(f_out, e_out, labels, run.class_names)
        summary["trigger"] = _trigger_view(f_out, e_out, labels, run.class_names, config.precision)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    yml = final / "hls4ml_config.yml"  # the only file that names the build folder
    if yml.exists():
        yml.write_text(yml.read_text().replace(f"OutputDir: {tmp}", f"OutputDir: {final}"))
    write_json(export / "hls4ml.json", summary)
    return summary
