"""The trigger path of the event-level anomaly search (:mod:`colliderlab.anomaly.event_search`): the
scorers exported to ONNX with parity, and the autoencoder's fixed-point firmware emulated with
hls4ml and its anomaly score compared with the float one."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["trigger_path"]


def trigger_path(
    models: Mapping[str, Any], x_sm: np.ndarray, signals: Mapping[str, np.ndarray], out_dir: Path | None,
    rng: np.random.Generator, *, n_events: int, hls_options: Mapping[str, Any],
) -> dict[str, Any]:
    """ONNX parity of both scorers; hls4ml emulation of the autoencoder and its score vs float.

    Args:
        models: ``ae`` and ``vae`` scorers (:mod:`colliderlab.anomaly.event_ae`).
        x_sm: (N, F) Standard-Model test events; signals: name -> (M, F) signal test events.
        out_dir: the search's output folder (files go to ``out_dir/trigger``; ``None``: a temporary folder).
        rng: draws the (at most ``n_events``) events per sample run through the emulated firmware.
        hls_options: an :class:`colliderlab.export.hls.HLSConfig` dict.
    """
    import tempfile

    from colliderlab import metrics as mt
    from colliderlab.anomaly import event_ae_train as ea

    out = out_dir / "trigger" if out_dir is not None else Path(tempfile.mkdtemp(prefix="anomaly_trigger_"))
    res: dict[str, Any] = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        try:
            res[f"onnx_{name}"] = ea.export_onnx_scorer(model, x_sm, out / f"anomaly_{name}.onnx")
        except Exception as err:  # optional dependencies (onnxruntime, onnxscript) or exporter
            res[f"onnx_{name}"] = {"error": f"{type(err).__name__}: {err}"}
    from colliderlab.export import hls

    ok, why = hls.hls4ml_available()
    if not ok:
        res["hls4ml"] = {"skipped": why}
        return res
    n = n_events
    sm = x_sm[rng.permutation(len(x_sm))[:n]]
    cfg = hls.HLSConfig.from_dict({"project_name": "anomaly_ae", "output_dir": str(out / "hls4ml_prj"),
                                   **dict(hls_options)})
    t0 = time.perf_counter()
    em = ea.hls_scores(models["ae"], sm, cfg)
    handle = em.pop("handle")
    t_compile = time.perf_counter() - t0
    per_signal = {}
    for sig, xs in signals.items():
        xs = xs[rng.permutation(len(xs))[:n]]
        es = ea.hls_scores(models["ae"], xs, handle=handle)
        lab = np.r_[np.zeros(len(sm)), np.ones(len(xs))]
        per_signal[sig] = {
            "auc_float": mt.auc(np.r_[em["float"], es["float"]], lab),
            "auc_emulated": mt.auc(np.r_[em["emulated"], es["emulated"]], lab),
            "n_events": int(len(xs)),
            "clipped_fraction": es["clipped_fraction"],
            **{f"signal_{k}": v for k, v in ea.compare_scores(es["float"], es["emulated"]).items()},
        }
    res["hls4ml"] = {
        "config": cfg.to_dict(),
        "score_computed": "outside the firmware: mean squared difference of firmware output and input, float64",
        "seconds_convert_compile": t_compile,
        "sm": {**ea.compare_scores(em["float"], em["emulated"]), "clipped_fraction": em["clipped_fraction"]},
        "signals": per_signal,
        "resources": hls.resource_estimate(ea.hls_network(models["ae"]), (models["ae"].config.n_features,), cfg),
        "project": str(handle.output_dir),
    }
    return res
