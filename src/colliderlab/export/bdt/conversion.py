"""xgboost to conifer: exact splits, the measured intercept, a cached compiled bridge."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from colliderlab.atomic import replacing
from colliderlab.export.bdt.config import ConiferConfig, ToolchainError
from colliderlab.export.bdt.emulation import ConiferBDT
from colliderlab.export.bdt.toolchain import _keep_cwd, _quiet, check_toolchain, fixed_point_range

__all__ = ["convert_bdt"]


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
            with replacing(out / so_name) as tmp:
                shutil.copy2(cached, tmp)
            try:
                _load_bridge(model, out / so_name)
                return True
            except ImportError:  # a broken cache entry: rebuild
                cached.unlink(missing_ok=True)
        model.compile()
        with contextlib.suppress(OSError):
            cached.parent.mkdir(parents=True, exist_ok=True)
            with replacing(cached) as tmp:
                shutil.copy2(out / so_name, tmp)
        return False


def _set_intercept(ens: dict[str, Any], booster: Any, meta: dict[str, Any], n_features: int,
                   cfg: ConiferConfig) -> dict[str, Any]:
    """Put the measured intercept into ``ens`` when ``cfg.measured_base_score`` (else check
    conifer's reading of base_score); returns the report of both."""
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
    return {
        "xgboost_base_score": meta["learner_model_param"].get("base_score"),
        "objective": meta["objective"]["name"],
        "conifer_init_predict": conifer_init,
        "measured_intercept": measured,
        "used": [float(v) for v in ens["init_predict"]],
        "source": "measured" if cfg.measured_base_score else "conifer",
    }


def _split_report(ens: dict[str, Any], booster: Any, cfg: ConiferConfig) -> dict[str, Any]:
    """Exact split thresholds (when ``cfg.exact_splits``) and the thresholds outside the
    fixed-point threshold type's range."""
    splits = _exact_splits(ens, booster) if cfg.exact_splits else {"exact": False}
    thr_range = fixed_point_range(cfg.threshold_type)
    if thr_range is not None:
        thr = np.concatenate([
            np.asarray(td["threshold"])[np.asarray(td["feature"]) >= 0]
            for per_class in ens["trees"] for td in per_class
        ] or [np.zeros(0)])
        splits["thresholds_out_of_range"] = int(((thr < thr_range[0]) | (thr > thr_range[1])).sum())
    return splits


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
    base = _set_intercept(ens, booster, meta, n_features, cfg)
    splits = _split_report(ens, booster, cfg)

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
