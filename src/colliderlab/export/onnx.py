"""ONNX and ``torch.export`` programs of trained models, with parity checks on real jets.

Every model of the zoo whose forward pass has static control flow is exported with a dynamic
batch axis and, for particle clouds and sequences, a dynamic particle axis, so one file serves
any batch size and any padding length. The exported program runs the model's static-shape path
(:func:`colliderlab.nn.layers.exporting`): all ``N^2`` pairs instead of packed pair lists.

The export metadata lives next to the model (as weaver-core keeps it with ``get_model``):

    spec = export_spec(model, "particles")   # input names, dynamic axes, output name
    path = export_onnx(model, inputs, "model.onnx", spec)
    session = onnx_session(path)
    logits = run_onnx(session, {"x": x, "mask": mask})           # (B, C)
    report = parity(model, session, arrays, spec)                 # max |diff| of real jets' scores

A model that cannot be exported raises :class:`ExportError` naming the operation (``recnn``: its
recursion has a data-dependent number of tree levels).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.metrics import softmax

__all__ = [
    "ExportError",
    "ExportSpec",
    "export_spec",
    "example_inputs",
    "export_onnx",
    "export_program",
    "program_spec",
    "load_program",
    "onnx_session",
    "run_onnx",
    "parity",
    "FAR_AWAY",
]

# Padded particles' coordinates are moved this far (plus their slot index) from the jet axis
# before a kNN model is exported or compared, so distance ties cannot flip neighbours.
FAR_AWAY = 1.0e3

# Representations whose arrays have a particle axis (axis 1) besides the batch axis (axis 0).
_PARTICLE_AXIS_KINDS = ("particles", "sequence")


class ExportError(ValueError):
    """A model (or one of its operations) that the requested format cannot express."""


@dataclass(frozen=True)
class ExportSpec:
    """What a deployed program needs to know about its inputs and output.

    ``dynamic_axes`` maps each input name to ``{axis: axis name}`` ("batch", "particles").
    ``min_particles`` is the smallest particle count the program accepts (a kNN model needs
    more particles than neighbours).
    """

    input_names: tuple[str, ...]
    dynamic_axes: Mapping[str, Mapping[int, str]]
    output_name: str = "logits"
    min_particles: int = 2
    representation: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_names": list(self.input_names),
            "output_name": self.output_name,
            "dynamic_axes": {k: {str(a): n for a, n in v.items()} for k, v in self.dynamic_axes.items()},
            "min_particles": self.min_particles,
            "representation": self.representation,
            **dict(self.meta),
        }


def export_spec(model: Any, representation: str, example: Mapping[str, np.ndarray] | None = None) -> ExportSpec:
    """The export metadata of ``model`` fed by a ``representation`` kind.

    Raises:
        ExportError: the model declares an operation no exported program can express
            (``model.export_unsupported``).
    """
    name = type(model).__name__
    reason = getattr(model, "export_unsupported", None)
    if reason:
        raise ExportError(f"{name} cannot be exported: {reason}")
    names = tuple(getattr(model, "input_names", ()))
    if not names:
        raise ExportError(f"{name} has no 'input_names'; the exporter needs them to name the inputs")
    axes: dict[str, dict[int, str]] = {}
    for key in names:
        ndim = example[key].ndim if example is not None and key in example else 2
        ax = {0: "batch"}
        if representation in _PARTICLE_AXIS_KINDS and ndim >= 2:
            ax[1] = "particles"
        axes[key] = ax
    return ExportSpec(names, axes, min_particles=int(getattr(model, "export_min_particles", 2)),
                      representation=representation)


def example_inputs(
    arrays: Mapping[str, np.ndarray],
    spec: ExportSpec,
    n_jets: int | None = None,
    n_particles: int | None = None,
) -> tuple[Any, ...]:
    """Model inputs (torch tensors, in ``spec.input_names`` order) from representation arrays.

    ``n_particles`` truncates the particle axis (the hardest particles are kept; arrays are
    pT-ordered) or pads it with empty slots. Padded particles' ``coords`` are moved to
    :data:`FAR_AWAY` so kNN neighbours are unambiguous.

    Shapes: ``arrays[k]`` (J, ...) -> tensors (n_jets, ...).
    """
    import torch

    missing = [k for k in spec.input_names if k not in arrays]
    if missing:
        raise KeyError(f"the arrays lack input(s) {missing}; they have {sorted(arrays)}")
    sl = slice(0, n_jets)
    out = {k: np.ascontiguousarray(arrays[k][sl]) for k in spec.input_names}
    if n_particles is not None and spec.representation in _PARTICLE_AXIS_KINDS:
        for k, v in out.items():
            if v.ndim < 2:
                continue
            if v.shape[1] >= n_particles:
                out[k] = np.ascontiguousarray(v[:, :n_particles])
            else:
                pad = np.zeros((v.shape[0], n_particles - v.shape[1], *v.shape[2:]), v.dtype)
                out[k] = np.concatenate([v, pad], axis=1)
    if "coords" in out and "mask" in out:
        mask = out["mask"].astype(bool)
        coords = out["coords"].copy()
        far = FAR_AWAY + np.arange(coords.shape[1], dtype=coords.dtype)  # (N,) distinct
        coords[~mask] = np.broadcast_to(far[None, :, None], coords.shape)[~mask]
        out["coords"] = coords
    return tuple(torch.from_numpy(out[k]) for k in spec.input_names)


def _dynamic_shapes(model: Any, inputs: Sequence[Any], spec: ExportSpec, max_particles: int) -> tuple[Any, ...]:
    import torch

    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    particles = torch.export.Dim("particles", min=spec.min_particles, max=max(max_particles, spec.min_particles + 1))
    dims = {"batch": batch, "particles": particles}
    return tuple({a: dims[n] for a, n in spec.dynamic_axes[k].items()} for k in spec.input_names)


def _prepare(model: Any, inputs: Sequence[Any], spec: ExportSpec) -> Any:
    """The model in eval mode on the CPU; checks the inputs match the forward signature."""
    model = model.eval().cpu()
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(inputs) != len(spec.input_names) or len(params) < len(inputs):
        raise ExportError(
            f"{type(model).__name__}.forward takes {[p.name for p in params]}, but {len(inputs)} "
            f"inputs ({list(spec.input_names)}) were given"
        )
    return model


def _explain(err: Exception, model: Any, fmt: str) -> ExportError:
    """Turn an exporter failure into an error naming the operation when one is named."""
    import re

    text = str(err)
    op = re.search(r"(aten|prims)::?\.?[\w.]+|OpOverload\(op='[\w.]+'", text)
    what = f" (operation {op.group(0)})" if op else ""
    first = next((line for line in text.splitlines() if line.strip()), type(err).__name__)
    return ExportError(f"{type(model).__name__} cannot be exported to {fmt}{what}: {first[:300]}")


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Silence the exporter's info/warning logs (e.g. "torchvision is not installed")."""
    import logging

    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def _atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, keep_suffix=True) as tmp:
        write(tmp)
    return path


def export_onnx(
    model: Any, inputs: Sequence[Any], path: str | os.PathLike, spec: ExportSpec,
    *, opset: int | None = None, max_particles: int = 512,
) -> Path:
    """Write ``model`` as ONNX (``torch.onnx.export`` via ``torch.export``) with dynamic axes.

    Args:
        inputs: example tensors in ``spec.input_names`` order (at least 2 jets).
        max_particles: the largest particle count the program must accept.
    Raises:
        ExportError: the exporter could not express an operation (named when it can be).
    """
    import torch

    model = _prepare(model, inputs, spec)
    shapes = _dynamic_shapes(model, inputs, spec, max_particles)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), _quiet_logs():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(
                    model, tuple(inputs), str(tmp), input_names=list(spec.input_names),
                    output_names=[spec.output_name], dynamic_shapes=shapes, dynamo=True,
                    opset_version=opset, optimize=True, verbose=False,
                )
            except Exception as err:  # the exporter raises many types; name the operation
                raise _explain(err, model, "ONNX") from err

    return _atomic(path, write)


def program_spec(model: Any, spec: ExportSpec) -> ExportSpec:
    """The spec of ``model``'s ``torch.export`` program: as ``spec``, but with a fixed particle
    count for models whose recurrence ``torch.export`` unrolls step by step
    (``model.export_static_particles``, e.g. LSTM/GRU; their ONNX programs keep the axis)."""
    reason = getattr(model, "export_static_particles", None)
    if not reason:
        return spec
    axes = {k: {a: n for a, n in v.items() if n != "particles"} for k, v in spec.dynamic_axes.items()}
    return ExportSpec(spec.input_names, axes, spec.output_name, spec.min_particles, spec.representation,
                      {**dict(spec.meta), "static_particles": reason})


def export_program(
    model: Any, inputs: Sequence[Any], path: str | os.PathLike, spec: ExportSpec, *, max_particles: int = 512
) -> Path:
    """Write a ``torch.export`` program (``.pt2``) with dynamic axes; load it with :func:`load_program`.

    The particle axis stays fixed at the example's count where :func:`program_spec` says so.
    """
    import torch

    spec = program_spec(model, spec)
    model = _prepare(model, inputs, spec)
    shapes = _dynamic_shapes(model, inputs, spec, max_particles)
    try:
        with warnings.catch_warnings():  # nn.LSTM's flat weights: "assigned during export"
            warnings.simplefilter("ignore", UserWarning)
            ep = torch.export.export(model, tuple(inputs), dynamic_shapes=shapes)
    except Exception as err:
        raise _explain(err, model, "torch.export") from err
    return _atomic(path, lambda tmp: torch.export.save(ep, str(tmp)))


def load_program(path: str | os.PathLike) -> Any:
    """A callable module from a saved ``torch.export`` program: ``module(*inputs) -> logits``."""
    import torch

    return torch.export.load(str(path)).module()


def onnx_session(path: str | os.PathLike, *, threads: int | None = None, providers: Sequence[str] | None = None) -> Any:
    """An onnxruntime session (CUDA when onnxruntime-gpu and a GPU are present, else CPU)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    avail = ort.get_available_providers()
    if providers is None:
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in avail]
    return ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))


def run_onnx(session: Any, inputs: Mapping[str, Any] | Sequence[Any]) -> np.ndarray:
    """Run a session on named (or positional, in the session's input order) arrays -> (B, C)."""
    names = [i.name for i in session.get_inputs()]
    if not isinstance(inputs, Mapping):
        inputs = dict(zip(names, inputs, strict=True))
    feed = {}
    for k in names:
        if k not in inputs:
            raise KeyError(f"the ONNX model needs inputs {names}; {k!r} is missing")
        v = inputs[k]
        feed[k] = v.numpy() if hasattr(v, "numpy") else np.asarray(v)
    return session.run(None, feed)[0]


def parity(
    model: Any,
    program: Any,
    arrays: Mapping[str, np.ndarray],
    spec: ExportSpec,
    *,
    batch_sizes: Sequence[int] = (1, 7, 64),
    particle_counts: Sequence[int | None] = (None, 32),
) -> dict[str, Any]:
    """Compare an exported program with the PyTorch model on real jets.

    ``program`` is an onnxruntime session or a callable (``load_program``). For each batch size
    and particle count (``None``: as given) the first jets are scored by both; the report has
    the maximum absolute difference of the logits and of the softmax scores over all of them.

    Returns:
        ``{"max_abs_diff_scores", "max_abs_diff_logits", "cases": [{batch, particles, ...}]}``
    """
    import torch

    model = model.eval().cpu()
    is_session = hasattr(program, "get_inputs")
    cases = []
    has_particles = any("particles" in v.values() for v in spec.dynamic_axes.values())
    counts = particle_counts if has_particles else (None,)
    n_avail = len(next(iter(arrays.values())))
    for n_part in counts:
        if n_part is not None and n_part < spec.min_particles:
            continue
        for bs in batch_sizes:
            bs = min(bs, n_avail)
            inputs = example_inputs(arrays, spec, bs, n_part)
            with torch.no_grad():
                ref = model(*inputs).float().numpy()
                out = run_onnx(program, dict(zip(spec.input_names, inputs, strict=True))) if is_session \
                    else program(*inputs).detach().float().numpy()
            if out.shape != ref.shape:
                raise AssertionError(f"exported output has shape {out.shape}, PyTorch {ref.shape}")
            cases.append({
                "batch": bs, "particles": int(inputs[0].shape[1]) if n_part is not None else None,
                "max_abs_diff_logits": float(np.abs(out - ref).max()),
                "max_abs_diff_scores": float(np.abs(softmax(out) - softmax(ref)).max()),
            })
    return {
        "max_abs_diff_logits": max(c["max_abs_diff_logits"] for c in cases),
        "max_abs_diff_scores": max(c["max_abs_diff_scores"] for c in cases),
        "cases": cases,
    }


def time_call(fn: Callable[[], Any], min_seconds: float = 0.5, max_calls: int = 10_000) -> float:
    """Seconds per call of ``fn``: one warm-up, then calls until ``min_seconds`` have passed."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds or n >= max_calls:
            return dt / n
