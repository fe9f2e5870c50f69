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

from colliderlab.export.hls.config import (
    PAPER_FIGURES,
    VALID_BACKENDS,
    VALID_IO_TYPES,
    VALID_STRATEGIES,
    HLSConfig,
    parse_precision,
)
from colliderlab.export.hls.conversion import (
    HLSHandle,
    compare,
    convert,
    emulate,
)
from colliderlab.export.hls.frontend import (
    hls4ml_available,
)
from colliderlab.export.hls.resources import (
    resource_estimate,
)
from colliderlab.export.hls.runs import (
    export_hls_run,
)

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
