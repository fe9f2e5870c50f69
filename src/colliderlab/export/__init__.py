"""From training to trigger: exported programs, quantisation and FPGA firmware.

Submodules (each imports its heavy dependency inside the functions that need it):

* :mod:`colliderlab.export.onnx` - ONNX and ``torch.export`` programs with dynamic batch and
  particle axes, parity against PyTorch on real jets, onnxruntime sessions.
* :mod:`colliderlab.export.quantize` - fixed-point post-training quantisation sweeps and
  quantisation-aware training modules.
* :mod:`colliderlab.export.hls` - hls4ml conversion, bit-accurate C++ emulation, resource and
  latency estimates (arXiv:1804.06913).
* :mod:`colliderlab.export.bdt` - boosted decision trees to FPGAs with conifer.
* :mod:`colliderlab.export.trigger` - trigger-rate view: thresholds at a fixed background rate.
"""
