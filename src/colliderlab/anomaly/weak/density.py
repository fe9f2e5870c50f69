"""The density models of ANODE and CATHODE: conditional flows p(x | m_JJ) trained by maximum
likelihood, their log-densities, and CATHODE's sampled background template."""

from __future__ import annotations

import copy

import numpy as np

from colliderlab.anomaly.weak.config import FlowTrainConfig
from colliderlab.anomaly.weak.samples import DijetSample, Preprocessor

__all__ = ["train_flow", "sample_template"]

def _standardise_m(m: np.ndarray, ref: np.ndarray) -> np.ndarray:  # (N,) -> (N, 1)
    return ((m - ref.mean()) / (ref.std() + 1e-12))[:, None]


def train_flow(x: np.ndarray, m: np.ndarray, config: FlowTrainConfig, *, seed: int = 0, progress: bool = False):
    """Fit p(z | m) by maximum likelihood; ``x`` (N, D) already preprocessed, ``m`` (N, 1).

    Holds out ``config.validation`` of the events and keeps the state with the best validation
    negative log-likelihood (early stopping after ``patience`` epochs without improvement).

    Returns ``(flow, history)``: the :class:`~colliderlab.generative.flow.ConditionalFlow` in eval
    mode and a list of per-epoch ``{"train_nll", "val_nll"}``.
    """
    import torch

    from colliderlab.generative.flow import ConditionalFlow

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_t = torch.as_tensor(x, dtype=torch.float32)
    m_t = torch.as_tensor(m, dtype=torch.float32)
    order = rng.permutation(len(x_t))
    n_val = max(1, int(config.validation * len(order)))
    val, tr = order[:n_val], order[n_val:]
    flow = ConditionalFlow(x_t.shape[1], m_t.shape[1], kind=config.kind, transforms=config.transforms,
                           hidden=config.hidden)
    opt = torch.optim.AdamW(flow.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * max(1, int(np.ceil(len(tr) / config.batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    best, best_state, stale, history = np.inf, None, 0, []
    epochs = range(config.epochs)
    if progress:
        from colliderlab.progress import progress as progress_bar

        epochs = progress_bar(epochs, desc="flow", unit="epoch", leave=False)
    for _ in epochs:
        flow.train()
        perm = torch.as_tensor(rng.permutation(tr))
        total = 0.0
        for i in range(0, len(perm), config.batch_size):
            b = perm[i:i + config.batch_size]
            loss = -flow.log_prob(x_t[b], m_t[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(b)
        flow.eval()
        with torch.no_grad():
            v = float(-flow.log_prob(x_t[val], m_t[val]).mean())
        history.append({"train_nll": total / len(tr), "val_nll": v})
        if v < best - 1e-4:
            best, best_state, stale = v, copy.deepcopy(flow.state_dict()), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        flow.load_state_dict(best_state)
    flow.eval()
    return flow, history


def _flow_log_prob(flow, z: np.ndarray, m: np.ndarray, batch: int = 65536) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch):
            out.append(flow.log_prob(torch.as_tensor(z[i:i + batch], dtype=torch.float32),
                                     torch.as_tensor(m[i:i + batch], dtype=torch.float32)).numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def sample_template(flow, prep: Preprocessor, m_ref: np.ndarray, mjj_sr: np.ndarray, n: int,
                    rng: np.random.Generator) -> DijetSample:
    """CATHODE's background template: m_JJ from a Gaussian kernel density estimate of the SR data
    masses ``mjj_sr`` (TeV), x from the flow at those masses, back through the preprocessing.

    ``m_ref`` is the m_JJ sample whose mean and width standardised the flow's conditioning.
    Samples that land on the preprocessing's clipping boundary (outside the data's range) are
    redrawn."""
    import torch
    from scipy.stats import gaussian_kde

    kde = gaussian_kde(mjj_sr, bw_method="scott")
    lo, hi = mjj_sr.min(), mjj_sr.max()
    xs, ms, have = [], [], 0
    for _ in range(20):
        m = kde.resample(int(1.3 * (n - have)) + 16, seed=rng).reshape(-1)
        m = m[(m >= lo) & (m <= hi)]
        torch.manual_seed(int(rng.integers(2**31)))
        z = flow.sample(torch.as_tensor(_standardise_m(m, m_ref), dtype=torch.float32)).numpy()
        ok = np.isfinite(z).all(axis=1) & (np.abs(z * prep.std + prep.mean) < 9.0).all(axis=1)
        xs.append(prep.inverse(z[ok]))
        ms.append(m[ok])
        have += int(ok.sum())
        if have >= n:
            break
    return DijetSample(np.concatenate(xs)[:n], np.concatenate(ms)[:n])
