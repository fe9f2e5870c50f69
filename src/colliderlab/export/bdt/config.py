"""conifer export options (:class:`ConiferConfig`), the handle of a converted BDT and the tool-chain
error."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["BACKENDS", "ToolchainError", "ConiferConfig"]


# Our backend name -> conifer's. conifer >= 1.3 merged Vivado HLS and Vitis HLS into
# "xilinxhls" (it picks vivado_hls / vitis_hls / vitis-run at build time).
BACKENDS: dict[str, str] = {"cpp": "cpp", "xilinxhls": "xilinxhls", "vivadohls": "xilinxhls"}

_PRECISION = re.compile(
    r"^\s*(?:(?P<fx>ap_u?fixed)\s*<\s*(?P<w>\d+)\s*,\s*(?P<i>-?\d+)\s*(?:,\s*(?:AP_\w+|\d+)\s*){0,3}>"
    r"|(?P<int>ap_u?int)\s*<\s*(?P<iw>\d+)\s*>|(?P<fl>float|double))\s*$"
)


# Names the generated C++ or the summary file already use (the HLS firmware defines ``bdt``).
_RESERVED = frozenset({"bdt", "BDT", "conifer", "bridge", "compute", "main"})


class ToolchainError(RuntimeError):
    """Something conifer's C++ emulation needs (compiler or headers) is missing."""


@dataclass(frozen=True)
class ConiferConfig:
    """How a BDT is turned into firmware and emulated.

    Args:
        backend: ``"cpp"`` (C++ emulation only, the default) or ``"xilinxhls"`` / ``"vivadohls"``
            (a full HLS project - firmware, test bench, Tcl build scripts - whose C++ is
            compiled for emulation; synthesis needs Vivado/Vitis HLS).
        precision: ``ap_fixed<W,I>`` (optionally with quantisation/overflow modes) of inputs,
            thresholds and scores; ``float`` or ``double`` for floating point.
        input_precision, threshold_precision, score_precision: override ``precision`` for one
            of them (the ``cpp`` backend needs input and threshold precisions to be equal).
        output_dir: the project directory (None: a new temporary directory).
        project_name: file and top-function name of the project (not ``bdt``: the HLS
            firmware names its ensemble so).
        part: FPGA part of the HLS project; clock_period: its target clock period in ns.
        unroll: HLS only: fully parallel trees (one comparator per split) rather than a loop.
        measured_base_score: use xgboost's measured intercept rather than conifer's reading
            of ``base_score`` (see the module docstring).
        exact_splits: float32-exact thresholds and leaf values from the booster's JSON.
        cache_builds: reuse the compiled ``cpp`` bridge of an identical build.
    """

    backend: str = "cpp"
    precision: str = "ap_fixed<18,8>"
    input_precision: str | None = None
    threshold_precision: str | None = None
    score_precision: str | None = None
    output_dir: str | None = None
    project_name: str = "colliderlab_bdt"
    part: str = "xcvu9p-flgb2104-2L-e"
    clock_period: float = 5.0
    unroll: bool = True
    measured_base_score: bool = True
    exact_splits: bool = True
    cache_builds: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown conifer backend {self.backend!r}; valid backends: {', '.join(BACKENDS)}"
            )
        for name in ("precision", "input_precision", "threshold_precision", "score_precision"):
            value = getattr(self, name)
            if value is not None and not _PRECISION.match(str(value)):
                raise ValueError(
                    f"{name} = {value!r} is not a precision conifer understands; use e.g. "
                    "'ap_fixed<18,8>', 'ap_fixed<18,8,AP_RND,AP_SAT>', 'ap_int<16>' or 'float'"
                )
        if self.backend == "cpp" and self.input_type != self.threshold_type:
            raise ValueError(
                "the cpp backend needs input_precision == threshold_precision, got "
                f"{self.input_type!r} and {self.threshold_type!r}"
            )
        if not re.fullmatch(r"[A-Za-z_]\w*", self.project_name) or self.project_name in _RESERVED:
            raise ValueError(
                "project_name must be a C identifier other than "
                f"{', '.join(sorted(_RESERVED))}, got {self.project_name!r}"
            )
        if not self.clock_period > 0:
            raise ValueError(f"clock_period must be positive (ns), got {self.clock_period}")

    @property
    def input_type(self) -> str:
        return self.input_precision or self.precision

    @property
    def threshold_type(self) -> str:
        return self.threshold_precision or self.input_precision or self.precision

    @property
    def score_type(self) -> str:
        return self.score_precision or self.precision

    @property
    def conifer_backend(self) -> str:
        return BACKENDS[self.backend]

    def to_conifer(self, output_dir: str | os.PathLike) -> dict[str, Any]:
        """conifer's configuration dictionary."""
        cfg: dict[str, Any] = {
            "backend": self.conifer_backend,
            "project_name": self.project_name,
            "output_dir": str(output_dir),
            "input_precision": self.input_type,
            "threshold_precision": self.threshold_type,
            "score_precision": self.score_type,
        }
        if self.conifer_backend == "xilinxhls":
            cfg.update(xilinx_part=self.part, clock_period=self.clock_period, unroll=self.unroll)
        return cfg


def _precisions(cfg: ConiferConfig) -> dict[str, str]:
    return {"input": cfg.input_type, "threshold": cfg.threshold_type, "score": cfg.score_type}
