"""The C++/HLS tool chain conifer needs: checks with what to install, fixed-point ranges, quiet and
cwd-keeping contexts."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from colliderlab.export.bdt.config import (
    _PRECISION,
    BACKENDS,
    ToolchainError,
)

__all__ = ["check_toolchain", "fixed_point_range"]


# ---------------------------------------------------------------------------- tool chain


def _hls4ml_ap_types() -> Path | None:
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    return path if (path / "ap_fixed.h").exists() else None


def check_toolchain(backend: str = "cpp") -> dict[str, str]:
    """Make sure conifer's emulation can be compiled; set ``JSON_ROOT`` / ``XILINX_AP_INCLUDE``.

    Unset variables get defaults: ``JSON_ROOT=/usr/include`` (where ``nlohmann-json3-dev``
    installs ``nlohmann/json.hpp``) and ``XILINX_AP_INCLUDE`` = hls4ml's bundled ``ap_types``.
    A ``JSON_ROOT`` outside the compiler's default include paths is added to
    ``CPLUS_INCLUDE_PATH`` (conifer 1.11 itself only looks in its own ``external/json``).

    Returns:
        the compiler and include directories used.

    Raises:
        ToolchainError: naming each missing piece and what installs it.
    """
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown conifer backend {backend!r}; valid backends: {', '.join(BACKENDS)}"
        )
    problems = []
    found: dict[str, str] = {}
    gxx = shutil.which("g++")
    if gxx is None:
        problems.append("no C++ compiler: apt-get install g++")
    else:
        found["g++"] = gxx
    if importlib.util.find_spec("pybind11") is None:
        problems.append("pybind11 is missing: pip install pybind11")
    if importlib.util.find_spec("conifer") is None:
        problems.append("conifer is missing: pip install 'conifer>=1.5'")
    # ap_ types: the Xilinx tools' copies if their variables are set, else hls4ml's.
    ap = None
    xilinx = (("XILINX_AP_INCLUDE", ""), ("XILINX_HLS", "include"), ("XILINX_VIVADO", "include"))
    for var, sub in xilinx:
        val = os.environ.get(var)
        if val and (Path(val) / sub / "ap_fixed.h").exists():
            ap = Path(val) / sub
            break
        if val and var == "XILINX_AP_INCLUDE":
            problems.append(f"XILINX_AP_INCLUDE={val} holds no ap_fixed.h")
    if ap is None and "XILINX_AP_INCLUDE" not in os.environ:
        ap = _hls4ml_ap_types()
        if ap is not None:
            os.environ["XILINX_AP_INCLUDE"] = str(ap)
    if ap is None:
        problems.append(
            "no Xilinx ap_types headers (ap_fixed.h): pip install hls4ml (it bundles them) or "
            "set XILINX_AP_INCLUDE to a directory holding ap_fixed.h"
        )
    else:
        found["ap_types"] = str(ap)
    if BACKENDS[backend] == "cpp":
        root = os.environ.setdefault("JSON_ROOT", "/usr/include")
        if not (Path(root) / "nlohmann" / "json.hpp").exists():
            problems.append(
                f"no nlohmann JSON header at {root}/nlohmann/json.hpp: apt-get install "
                "nlohmann-json3-dev (make deps-export does), or set JSON_ROOT to the directory "
                "holding nlohmann/"
            )
        else:
            found["json"] = root
            if Path(root).resolve() not in (Path("/usr/include"), Path("/usr/local/include")):
                paths = os.environ.get("CPLUS_INCLUDE_PATH", "")
                if root not in paths.split(os.pathsep):
                    joined = os.pathsep.join(p for p in (root, paths) if p)
                    os.environ["CPLUS_INCLUDE_PATH"] = joined
    if problems:
        raise ToolchainError("conifer's C++ emulation cannot be built: " + "; ".join(problems))
    return found


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence conifer warnings that the checks here make moot (e.g. its JSON include path)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


@contextlib.contextmanager
def _keep_cwd() -> Iterator[None]:
    """conifer chdirs into the project (and not always back, on errors)."""
    cwd = os.getcwd()
    try:
        yield
    finally:
        os.chdir(cwd)


def fixed_point_range(precision: str) -> tuple[float, float, float] | None:
    """(lowest, highest, lsb) of an ``ap_fixed``/``ap_int`` type; None for float/double."""
    m = _PRECISION.match(precision)
    if m is None:
        raise ValueError(f"cannot parse precision {precision!r}")
    if m["fl"]:
        return None
    if m["fx"]:
        width, integer, signed = int(m["w"]), int(m["i"]), m["fx"] == "ap_fixed"
    else:
        width, integer, signed = int(m["iw"]), int(m["iw"]), m["int"] == "ap_int"
    lsb = 2.0 ** (integer - width)
    if signed:
        return -(2.0 ** (integer - 1)), 2.0 ** (integer - 1) - lsb, lsb
    return 0.0, 2.0**integer - lsb, lsb
