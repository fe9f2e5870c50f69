"""Conversion with hls4ml, bit-accurate C++ emulation and the float-vs-emulated comparison."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.export.hls.config import PRECISION_KEYS, HLSConfig
from colliderlab.export.hls.frontend import (
    _input_shape,
    _pytorch_frontend,
    _require_hls4ml,
    _static_graph,
    _unsupported_ops,
)

__all__ = ["HLSHandle", "convert", "emulate", "compare"]


# --------------------------------------------------------------------------- conversion


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
        from colliderlab.export.hls.conversion import (
            emulate,  # the handle's own module imports this one
        )

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
    hls_model = _convert_graph(hls4ml, gm, shapes, config, name, log)
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


def _convert_graph(hls4ml: Any, gm: Any, shapes: Any, config: HLSConfig, name: str, log: io.StringIO) -> Any:
    """hls4ml's model of the traced graph ``gm`` (its output captured in ``log``); per-layer
    overrides must name layers of it."""
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
            return hls4ml.converters.convert_from_pytorch_model(
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
    pf, pe = (metrics.softmax(f), metrics.softmax(e)) if logits else (f, e)
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
