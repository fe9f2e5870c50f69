"""Boosted decision trees to FPGAs with conifer, emulated bit-accurately in C++.

conifer (Summers et al., "Fast inference of Boosted Decision Trees in FPGAs for particle
physics", JINST 15 (2020) P05026, arXiv:2002.02534) turns a trained tree ensemble into HLS or
C++ firmware in which every split is one fixed-point comparator evaluated in parallel and the
leaf values of all trees are summed by an adder tree. Its ``cpp`` backend compiles the same
fixed-point arithmetic (Xilinx ``ap_fixed`` types) into a Python extension, so the scores the
firmware would produce can be computed here, jet by jet, without vendor tools::

    handle = convert_bdt(bdt, ConiferConfig(precision="ap_fixed<18,8>", output_dir="prj"))
    scores = emulate(handle, x)            # (N,) binary margin or (N, C) per-class margins
    report = bdt_parity(bdt, handle, x, y) # conifer vs xgboost: max |diff|, agreement, AUCs
    sizes = bdt_resources(handle)          # trees, nodes, depth, comparators, conifer estimates

Shapes: ``x`` is (N, F) in the space the BDT was trained on (for runs of ``colliderlab
train``: standardised observables). Binary classifiers have one ensemble and one score per jet,
xgboost's margin ``log(p / (1 - p))``; C-class classifiers have one ensemble (and one score)
per class, xgboost's softmax logits.

What is compared: conifer's compiled ``decision_function`` returns ``init_predict + sum of
leaves`` in the score precision. That is directly xgboost's raw margin
(``predict(x, output_margin=True)``), which already contains the intercept (``base_score``).

How the converter is used, and two corrections (both measured, and both switchable):

* The ensemble is built by conifer's xgboost converter
  (``conifer.converters.get_converter("xgboost").convert``, the first half of
  ``conifer.converters.convert_from_xgboost``) and turned into a backend model with
  ``conifer.model.make_model`` (its second half).
* ``base_score`` (``ConiferConfig.measured_base_score``): conifer takes ``logit`` of the
  ``base_score`` string in the booster's config. With xgboost 3 that string is rounded to three
  digits for binary models (``[4.76E-1]``; 7e-7 off in the margin) and, for ``multi:softprob``,
  already holds margins (``[-0.199,-0.199,0.398]``), whose logit is NaN. The intercept used here
  is instead measured from xgboost itself: the margin of one jet minus its margin with
  ``base_margin = 0`` (exact to float32 rounding, ~1e-7). Both values are recorded in
  ``handle.base_score``.
* Split thresholds (``ConiferConfig.exact_splits``): the converter reads thresholds and leaf
  values from ``Booster.trees_to_dataframe``, a text dump with ~7 significant digits, while
  xgboost compares ``float32(x) < float32(threshold)``. Histogram cuts sit on data values, so
  jets exactly on a cut go the other way in a few per cent of the trees (this is conifer's
  "disagreements for xgboost >= 2" warning: 2.5% of jets off by up to 1.5 in the margin on a
  50-tree top tagger). The thresholds and leaf values are replaced by the exact float32 values
  from the booster's JSON (the same nodes, checked node by node).

Early stopping: ``XGBClassifier.predict`` uses the trees up to ``best_iteration``; the same
trees are converted (``handle.n_rounds``).

Fixed point: conifer casts inputs, thresholds and scores to the given ``ap_fixed<W, I>`` types
with the default quantisation (truncation) and overflow (wrap-around) modes. Inputs outside
``[-2^(I-1), 2^(I-1))`` wrap and are misrouted; :func:`bdt_parity` reports the fraction of
such inputs, and ``ap_fixed<18,8,AP_RND,AP_SAT>`` selects rounding and saturation.

Tool chain (no vendor tools needed for emulation): ``g++``, pybind11, the nlohmann JSON header
(``apt-get install nlohmann-json3-dev``; found through ``JSON_ROOT``, default
``/usr/include``) and the Xilinx ``ap_types`` headers (``XILINX_AP_INCLUDE``; by default those
bundled with hls4ml). :func:`check_toolchain` sets the variables when they are unset and says
what to install when something is missing. The C++ bridge of the ``cpp`` backend does not
depend on the model (the trees are read from JSON at run time), so each build is cached per
precision (``ConiferConfig.cache_builds``; ``$COLLIDERLAB_CONIFER_CACHE`` or
``~/.cache/colliderlab/conifer``) and a second conversion at the same precision skips the
~15 s g++ build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import write_json

__all__ = [
    "BACKENDS",
    "ToolchainError",
    "ConiferConfig",
    "ConiferBDT",
    "check_toolchain",
    "fixed_point_range",
    "convert_bdt",
    "emulate",
    "bdt_parity",
    "bdt_resources",
    "export_bdt_run",
]

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


@dataclass
class ConiferBDT:
    """A converted, compiled BDT: conifer's model plus what the conversion measured.

    ``n_classes`` is the classifier's number of classes C; ``n_outputs`` the number of
    ensembles and scores per jet (1 for binary, C otherwise). ``base_score`` holds xgboost's
    ``base_score`` string, conifer's ``init_predict``, the measured intercept and the one used;
    ``splits`` what :attr:`ConiferConfig.exact_splits` changed.
    """

    model: Any
    config: ConiferConfig
    output_dir: Path
    n_classes: int
    n_features: int
    n_rounds: int
    feature_names: tuple[str, ...] = ()
    base_score: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, Any] = field(default_factory=dict)
    compile_seconds: float = 0.0
    build_cached: bool = False

    @property
    def n_outputs(self) -> int:
        return 1 if self.n_classes <= 2 else self.n_classes

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Emulated scores, (N,) or (N, C): see :func:`emulate`."""
        return emulate(self, x)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.config.backend,
            "conifer_backend": self.config.conifer_backend,
            "config": dataclasses.asdict(self.config),
            "precision": _precisions(self.config),
            "output_dir": str(self.output_dir),
            "n_classes": self.n_classes,
            "n_outputs": self.n_outputs,
            "n_features": self.n_features,
            "n_rounds": self.n_rounds,
            "feature_names": list(self.feature_names),
            "base_score": self.base_score,
            "splits": self.splits,
            "compile_seconds": self.compile_seconds,
            "build_cached": self.build_cached,
        }


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


def _precisions(cfg: ConiferConfig) -> dict[str, str]:
    return {"input": cfg.input_type, "threshold": cfg.threshold_type, "score": cfg.score_type}


# ---------------------------------------------------------------------------- conversion


def _n_rounds(bdt: Any) -> int:
    """Boosting rounds ``XGBClassifier.predict`` uses (``best_iteration + 1`` if early-stopped)."""
    booster = bdt._model.get_booster()
    total = booster.num_boosted_rounds()
    try:
        return min(int(bdt._model.best_iteration) + 1, total)
    except (AttributeError, TypeError, ValueError):
        return total


def _measured_intercept(booster: Any, n_features: int) -> list[float]:
    """xgboost's intercept per output: margin minus margin with ``base_margin = 0`` (one tree)."""
    import xgboost as xgb

    x0 = np.zeros((1, n_features), np.float32)
    full = booster.predict(xgb.DMatrix(x0), output_margin=True, iteration_range=(0, 1))
    bare = booster.predict(
        xgb.DMatrix(x0, base_margin=np.zeros_like(full)), output_margin=True, iteration_range=(0, 1)
    )
    return (np.asarray(full, np.float64) - np.asarray(bare, np.float64)).reshape(-1).tolist()


def _exact_splits(ens: dict[str, Any], booster: Any) -> dict[str, Any]:
    """Replace the converter's text-dump thresholds and leaf values by the booster's float32."""
    model = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]
    trees, tree_info = model["trees"], model["tree_info"]
    n_out = len(ens["trees"][0])
    max_thr, max_leaf, n_changed, n_splits = 0.0, 0.0, 0, 0
    for i, per_class in enumerate(ens["trees"]):
        for j, td in enumerate(per_class):
            k = n_out * i + j
            t = trees[k]
            left = np.asarray(t["left_children"])
            if int(tree_info[k]) != j or list(left) != list(td["children_left"]):
                raise RuntimeError(
                    f"conifer's tree {i} (class {j}) does not match xgboost's tree {k}: "
                    "cannot correct its thresholds (use exact_splits=False)"
                )
            cond = np.asarray(t["split_conditions"], np.float32).astype(np.float64)
            leaf = left == -1
            feat = np.asarray(td["feature"])
            if not np.array_equal(feat[~leaf], np.asarray(t["split_indices"])[~leaf]):
                raise RuntimeError(
                    f"conifer's tree {i} (class {j}) splits on other features than xgboost's"
                )
            thr, val = np.asarray(td["threshold"], np.float64), np.asarray(td["value"], np.float64)
            if (~leaf).any():
                d = np.abs(thr[~leaf] - cond[~leaf])
                max_thr, n_changed = max(max_thr, float(d.max())), n_changed + int((d > 0).sum())
            max_leaf = max(max_leaf, float(np.abs(val[leaf] - cond[leaf]).max()))
            n_splits += int((~leaf).sum())
            td["threshold"] = np.where(leaf, thr, cond).tolist()
            td["value"] = np.where(leaf, cond, val).tolist()
    return {
        "exact": True,
        "n_splits": n_splits,
        "n_thresholds_changed": n_changed,
        "max_threshold_change": max_thr,
        "max_leaf_change": max_leaf,
    }


def _cache_dir() -> Path:
    env = os.environ.get("COLLIDERLAB_CONIFER_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "colliderlab" / "conifer"


def _build_key(bridge_text: str) -> str:
    import conifer
    import pybind11

    header = Path(conifer.__file__).parent / "backends" / "cpp" / "include" / "conifer.h"
    try:
        run = subprocess.run(["g++", "--version"], capture_output=True, text=True, check=False)
        gxx = run.stdout
    except OSError:
        gxx = ""
    parts = [
        bridge_text,
        header.read_text(),
        str(conifer.__version__),
        sys.version,
        pybind11.__version__,
        gxx.splitlines()[0] if gxx else "",
        os.environ.get("XILINX_AP_INCLUDE", ""),
        os.environ.get("JSON_ROOT", ""),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _load_bridge(model: Any, so: Path) -> None:
    """Import a compiled cpp bridge and build conifer's BDT object, as ``CPPModel.compile`` does."""
    name = f"conifer_bridge_{model._stamp}"
    spec = importlib.util.spec_from_file_location(name, str(so))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {so}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = model.config
    model.bridge = module.BDT(str(Path(cfg.output_dir) / f"{cfg.project_name}.json"))


def _compile(model: Any, cfg: ConiferConfig) -> bool:
    """Write the project and compile its emulation (g++); returns whether a cached build was used.

    The cpp bridge is the same for every model of a precision (the trees are read from the
    project's JSON at run time): its module name is made a hash of the build so the compiled
    extension can be reused.
    """
    with _keep_cwd(), _quiet("conifer.utils.misc"):
        if cfg.conifer_backend != "cpp" or not cfg.cache_builds:
            model.compile()
            return False
        model.write()
        out = Path(model.config.output_dir)
        text = (out / "bridge.cpp").read_text()
        text = text.replace(f"conifer_bridge_{model._stamp}", "conifer_bridge_@")
        (out / "bridge.cpp").unlink()
        key = _build_key(text)
        model._stamp = int(key[:12], 16)
        so_name = f"conifer_bridge_{model._stamp}.so"
        cached = _cache_dir() / so_name
        if cached.exists():
            model.write()  # bridge.cpp with the cached module's name, for a self-contained project
            # a new inode: the same file may already be loaded (mapped) by this process
            tmp = out / f".{so_name}.{os.getpid()}.tmp"
            shutil.copy2(cached, tmp)
            os.replace(tmp, out / so_name)
            try:
                _load_bridge(model, out / so_name)
                return True
            except ImportError:  # a broken cache entry: rebuild
                cached.unlink(missing_ok=True)
        model.compile()
        with contextlib.suppress(OSError):
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f".{so_name}.{os.getpid()}.tmp")
            shutil.copy2(out / so_name, tmp)
            os.replace(tmp, cached)
        return False


def convert_bdt(bdt: Any, config: ConiferConfig | None = None) -> ConiferBDT:
    """Convert a trained :class:`~colliderlab.models.bdt.BDTClassifier` with conifer and compile it.

    Binary boosters become one tree ensemble (one score per jet), C-class boosters one
    ensemble per class. The project (conifer's JSON of the ensemble, the C++ bridge and, for the
    HLS backends, firmware and build scripts) is written to ``config.output_dir``.

    Raises:
        ToolchainError: compiler or headers missing; RuntimeError: the build failed.
    """
    import conifer
    import conifer.converters
    import conifer.model

    cfg = config or ConiferConfig()
    if getattr(bdt, "_model", None) is None:
        raise RuntimeError("convert_bdt needs a trained BDTClassifier (fit or load it first)")
    check_toolchain(cfg.backend)
    if cfg.output_dir:
        out = Path(cfg.output_dir)
    else:
        out = Path(tempfile.mkdtemp(prefix="colliderlab-conifer-"))
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()

    booster = bdt._model.get_booster()
    n_rounds = _n_rounds(bdt)
    if n_rounds < booster.num_boosted_rounds():
        booster = booster[:n_rounds]
    meta = json.loads(booster.save_config())["learner"]
    n_features = int(meta["learner_model_param"]["num_feature"])
    n_classes = max(int(meta["learner_model_param"]["num_class"]), 2)

    with _quiet("conifer.converters.xgboost"):  # its xgboost>=2 warning: checked by bdt_parity
        ens = conifer.converters.get_converter("xgboost").convert(booster)
    conifer_init = [float(v) for v in ens["init_predict"]]
    measured = _measured_intercept(booster, n_features)
    if cfg.measured_base_score:
        ens["init_predict"] = measured
    elif not np.all(np.isfinite(conifer_init)):
        raise ValueError(
            f"conifer read base_score {meta['learner_model_param']['base_score']} as "
            f"{conifer_init} (xgboost stores multi-class intercepts as margins); use "
            "measured_base_score=True"
        )
    base = {
        "xgboost_base_score": meta["learner_model_param"].get("base_score"),
        "objective": meta["objective"]["name"],
        "conifer_init_predict": conifer_init,
        "measured_intercept": measured,
        "used": [float(v) for v in ens["init_predict"]],
        "source": "measured" if cfg.measured_base_score else "conifer",
    }
    splits = _exact_splits(ens, booster) if cfg.exact_splits else {"exact": False}
    thr_range = fixed_point_range(cfg.threshold_type)
    if thr_range is not None:
        thr = np.concatenate([
            np.asarray(td["threshold"])[np.asarray(td["feature"]) >= 0]
            for per_class in ens["trees"] for td in per_class
        ] or [np.zeros(0)])
        splits["thresholds_out_of_range"] = int(((thr < thr_range[0]) | (thr > thr_range[1])).sum())

    model = conifer.model.make_model(ens, cfg.to_conifer(out))
    model._stamp = time.time_ns() // 1000  # conifer's seconds stamp can repeat within a process
    t0 = time.perf_counter()
    try:
        cached = _compile(model, cfg)
    except ToolchainError:
        raise
    except Exception as err:  # conifer raises bare Exceptions; g++ printed its errors above
        raise RuntimeError(
            f"conifer could not compile the {cfg.backend} project in {out} ({err}); the "
            "compiler's messages are above"
        ) from err
    return ConiferBDT(
        model=model,
        config=dataclasses.replace(cfg, output_dir=str(out)),
        output_dir=out,
        n_classes=n_classes,
        n_features=n_features,
        n_rounds=n_rounds,
        feature_names=tuple(getattr(bdt, "feature_names", ()) or ()),
        base_score=base,
        splits=splits,
        compile_seconds=time.perf_counter() - t0,
        build_cached=cached,
    )


# ---------------------------------------------------------------------------- emulation


def _check_x(handle: ConiferBDT, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != handle.n_features:
        raise ValueError(f"x must have shape (N, {handle.n_features}), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"x has {int((~np.isfinite(x)).sum())} non-finite values")
    # xgboost sees float32 features: give conifer exactly the same values
    return np.ascontiguousarray(x, dtype=np.float32).astype(np.float64)


def emulate(handle: ConiferBDT, x: np.ndarray) -> np.ndarray:
    """Scores of conifer's compiled (bit-accurate fixed-point) ``decision_function``.

    Args:
        x: (N, F) features, cast to float32 first as xgboost does; conifer then casts them to
            the input precision.

    Returns:
        float64 (N,) for binary BDTs (the margin) or (N, C) per-class margins, exactly the
        fixed-point values (converted to double in C++; nothing is rounded in numpy).
    """
    xx = _check_x(handle, x)
    shape = (len(xx),) if handle.n_outputs == 1 else (len(xx), handle.n_outputs)
    if len(xx) == 0:
        return np.zeros(shape)
    with _keep_cwd():
        y = handle.model.decision_function(xx)
    return np.asarray(y, dtype=np.float64).reshape(shape)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _auc(scores: np.ndarray, y: np.ndarray, n_outputs: int) -> float:
    """Binary: AUC of the margin; multi-class: mean one-vs-rest AUC of softmax probabilities."""
    from colliderlab import metrics

    if n_outputs == 1:
        return metrics.auc(scores, y == 1)
    probs = _softmax(scores)
    present = [k for k in range(n_outputs) if (y == k).any() and not (y == k).all()]
    aucs = [metrics.auc(probs[:, k], y == k) for k in present]
    return float(np.mean(aucs)) if aucs else float("nan")


def bdt_parity(
    bdt: Any, handle: ConiferBDT, x: np.ndarray, y: np.ndarray | None = None
) -> dict[str, Any]:
    """conifer's emulated scores against xgboost's raw margins on the same jets.

    Args:
        x: (N, F) features; y: (N,) class labels, optional (for the AUCs).

    Returns:
        ``max_abs_diff`` / ``mean_abs_diff``: |conifer - xgboost margin| over jets (and classes);
        ``decision_agreement``: fraction of jets with the same decision (binary: the sign of the
        margin, i.e. p > 0.5; multi-class: the argmax); ``auc_xgboost``, ``auc_conifer`` and
        ``auc_difference`` (with ``y``); ``input_out_of_range_fraction`` (input values the
        input precision cannot hold: they wrap, unless the type saturates);
        ``score_out_of_range_fraction`` (xgboost margins beyond the score precision);
        ``precision``, ``score_lsb``, ``emulation_jets_per_second``, the ``base_score`` used.
    """
    xx = _check_x(handle, x)
    margin = np.asarray(bdt._model.predict(xx.astype(np.float32), output_margin=True), np.float64)
    margin = margin.reshape(len(xx)) if handle.n_outputs == 1 else margin.reshape(len(xx), -1)
    t0 = time.perf_counter()
    emu = emulate(handle, xx)
    seconds = time.perf_counter() - t0
    diff = np.abs(emu - margin)
    if handle.n_outputs == 1:
        agree = (emu > 0) == (margin > 0)
    else:
        agree = emu.argmax(axis=1) == margin.argmax(axis=1)
    in_range = fixed_point_range(handle.config.input_type)
    sc_range = fixed_point_range(handle.config.score_type)
    out: dict[str, Any] = {
        "n_jets": len(xx),
        "precision": _precisions(handle.config),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "decision_agreement": float(agree.mean()) if len(agree) else float("nan"),
        "n_decisions_differ": int((~agree).sum()),
        "input_out_of_range_fraction": (
            0.0 if in_range is None or not xx.size
            else float(((xx < in_range[0]) | (xx >= in_range[1] + in_range[2])).mean())
        ),
        "score_out_of_range_fraction": (
            0.0 if sc_range is None or not margin.size
            else float(((margin < sc_range[0]) | (margin >= sc_range[1] + sc_range[2])).mean())
        ),
        "score_lsb": None if sc_range is None else sc_range[2],
        "emulation_jets_per_second": len(xx) / max(seconds, 1e-9),
        "base_score": handle.base_score.get("used"),
        "base_score_source": handle.base_score.get("source"),
    }
    if y is not None:
        y = np.asarray(y).astype(int).reshape(-1)
        if len(y) != len(xx):
            raise ValueError(f"y has {len(y)} labels for {len(xx)} jets")
        a_x, a_c = _auc(margin, y, handle.n_outputs), _auc(emu, y, handle.n_outputs)
        out.update(auc_xgboost=a_x, auc_conifer=a_c, auc_difference=a_c - a_x)
    return out


def _depth(td: Any) -> int:
    """Depth of a conifer tree (0 for a single leaf)."""
    left, right = td.children_left, td.children_right
    depth, frontier = 0, [0]
    while True:
        nxt = [c for n in frontier for c in (left[n], right[n]) if c != -1]
        if not nxt:
            return depth
        depth, frontier = depth + 1, nxt


def bdt_resources(handle: ConiferBDT, *, estimates: bool = True) -> dict[str, Any]:
    """Size figures that need no vendor tools.

    ``n_trees``: boosting rounds; ``n_ensembles_trees``: trees over all outputs; ``n_nodes``,
    ``n_leaves``, ``n_splits``; ``max_depth``; ``comparisons_per_inference``: comparators of
    the fully parallel firmware (one per split, all evaluated for every jet);
    ``comparisons_sequential_max``: the longest root-to-leaf walks summed over trees (a CPU's
    work); ``additions_per_inference``: leaf values summed (trees per output - 1, plus the
    intercept, per output); ``conifer_estimates``: conifer's experimental latency (clock cycles)
    / LUT / FF predictions for its HLS and VHDL backends, from tree statistics (no synthesis).
    """
    m = handle.model
    trees = [t for per in m.trees for t in per]
    n_nodes = int(sum(t.n_nodes() for t in trees))
    n_leaves = int(sum(t.n_leaves() for t in trees))
    depths = [_depth(t) for t in trees]
    out: dict[str, Any] = {
        "n_trees": int(m.n_trees),
        "n_outputs": handle.n_outputs,
        "n_ensembles_trees": len(trees),
        "n_features": int(m.n_features),
        "n_nodes": n_nodes,
        "n_leaves": n_leaves,
        "n_splits": n_nodes - n_leaves,
        "max_depth": int(max(depths, default=0)),
        "comparisons_per_inference": n_nodes - n_leaves,
        "comparisons_sequential_max": int(sum(depths)),
        "additions_per_inference": len(trees),
        "sparsity": float(m.sparsity()) if m.max_depth > 0 else 0.0,
        "precision": _precisions(handle.config),
    }
    if estimates:
        est: dict[str, Any] = {}
        try:
            from conifer.utils.performance import performance_estimates

            with _quiet("conifer.utils.performance.prediction"):
                for backend in ("xilinxhls", "vhdl"):
                    est[backend] = {k: int(v) for k, v in performance_estimates(m, backend).items()}
            est["note"] = (
                "conifer's experimental estimates (latency in clock cycles, LUT, FF) from tree "
                "statistics, without synthesis"
            )
        except Exception as err:  # estimates are informative only
            est["error"] = f"{type(err).__name__}: {err}"
        out["conifer_estimates"] = est
    return out


# ---------------------------------------------------------------------------- runs


def export_bdt_run(
    run_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    precision: str = "ap_fixed<18,8>",
    *,
    backend: str = "cpp",
    n_jets: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Convert the BDT of a ``colliderlab train`` run (``model: {name: bdt}``) with conifer.

    Writes the conifer project to ``out_dir`` (default ``RUN_DIR/export/conifer/``) and a
    summary ``conifer.json`` there. With ``data`` (any jet file the project reads; its first
    ``n_jets`` jets), the run's features are built and standardised as in training and the
    parity with xgboost is measured on them.

    Args:
        options: further :class:`ConiferConfig` fields (e.g. ``{"part": ..., "clock_period": 4}``).

    Returns:
        the summary: conversion (``conifer``), ``resources``, ``parity`` (with ``data``), run info.
    """
    import dataclasses as dc

    from colliderlab.features.build import build_dataset
    from colliderlab.models.bdt import BDTClassifier
    from colliderlab.train.experiment import load_run

    run = load_run(run_dir)
    if not isinstance(run.model, BDTClassifier):
        raise ValueError(
            f"{run_dir} holds a {run.model_name!r} model; conifer export needs a BDT run "
            "(model: {name: bdt})"
        )
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "export" / "conifer"
    out.mkdir(parents=True, exist_ok=True)
    opts = dict(options or {})
    cfg = ConiferConfig(backend=backend, precision=precision, output_dir=str(out), **opts)
    handle = convert_bdt(run.model, cfg)
    import conifer
    import xgboost

    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "model": run.model_name,
        "class_names": list(run.class_names),
        "conifer_version": str(conifer.__version__),
        "xgboost_version": xgboost.__version__,
        "conifer": handle.to_dict(),
        "resources": bdt_resources(handle),
    }
    if data is not None:
        ds, _ = build_dataset(data, run.representation, stop=n_jets)
        labels = run.map_labels(ds)
        ds = dc.replace(ds, arrays=run.standardizer.apply(ds.arrays))
        x = ds.arrays["x"].reshape(len(ds.arrays["x"]), -1)
        summary["data"] = str(data)
        summary["parity"] = bdt_parity(run.model, handle, x, labels)
    write_json(out / "conifer.json", summary)
    return summary
