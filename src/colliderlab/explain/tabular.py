"""SHAP values of taggers on observables (Lundberg & Lee, arXiv:1705.07874).

* BDT: exact tree SHAP (arXiv:1802.03888) as xgboost computes it (``pred_contribs``), in the
  booster's log-odds: a jet's values plus the bias sum to its margin. (``shap.TreeExplainer``
  0.51 on xgboost 3.2 boosters gave values that did not sum to the margin, off by up to 0.7 in
  log-odds on our BDT, so xgboost's own implementation is used.)
* DNN (and any torch model on a (B, F) feature matrix): ``shap.DeepExplainer`` (DeepLIFT with a
  background sample, arXiv:1704.02685) of the network's log-odds of the signal class (DeepLIFT's
  rules need a linear output: a log-softmax breaks its additivity); the values of a jet sum to its
  log-odds minus the background's mean (the additivity error is
  returned).

Shapes: ``x`` (N, F) -> values (N, F), expected value (scalar).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["tree_shap", "deep_shap", "ranking"]


def tree_shap(bdt: Any, x: np.ndarray, class_index: int = -1) -> tuple[np.ndarray, float]:
    """SHAP values (N, F) of a :class:`~colliderlab.models.bdt.BDTClassifier` in log-odds and its
    expected value (the bias); for multi-class boosters those of ``class_index``."""
    import xgboost as xgb

    contrib = bdt.booster.predict(xgb.DMatrix(np.asarray(x, np.float32)), pred_contribs=True)
    if contrib.ndim == 3:  # (N, C, F + 1)
        contrib = contrib[:, class_index]
    return contrib[:, :-1], float(contrib[:, -1].mean())


def deep_shap(model: Any, x: np.ndarray, background: np.ndarray, target: int = -1) -> tuple[np.ndarray, float]:
    """DeepExplainer SHAP values (N, F) of the target's log-odds (binary: logit_1 - logit_0) and the largest
    additivity error |sum of values - (f(x) - mean f(background))|."""
    import shap
    import torch

    class LogProb(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            z = self.net(v)  # (B, C) logits; the log-odds of the target against the mean of the others
            return (z[:, target] - (z.sum(1) - z[:, target]) / (z.shape[1] - 1)).unsqueeze(1)  # (B, 1)

    model.eval()
    f = LogProb(model).eval()
    bg = torch.as_tensor(background, dtype=torch.float32)
    xt = torch.as_tensor(x, dtype=torch.float32)
    values = shap.DeepExplainer(f, bg).shap_values(xt, check_additivity=False)
    values = np.asarray(values[0] if isinstance(values, list) else values).reshape(len(x), -1)
    with torch.no_grad():
        gain = f(xt)[:, 0].numpy() - f(bg)[:, 0].numpy().mean()
    return values, float(np.abs(values.sum(1) - gain).max())


def ranking(values: np.ndarray, names: list[str] | tuple[str, ...]) -> list[tuple[str, float]]:
    """Features ordered by mean |SHAP value|, with it."""
    imp = np.abs(values).mean(0)
    order = np.argsort(-imp)
    return [(names[i], float(imp[i])) for i in order]
