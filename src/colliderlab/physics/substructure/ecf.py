"""Energy correlation functions over padded blocks of jets (helpers for :mod:`.observables`).

All functions take the momentum fractions ``z`` (B, n) (zero on padding, summing to one over
the real constituents) and the pairwise angles ``theta`` (B, n, n) = Delta R_ij (rapidity-azimuth,
zero on the diagonal), so one angle matrix serves every beta. Angles involving padding are finite
but meaningless: every sum weights them by z = 0.

Definitions (pt_R measure, as fastjet-contrib ``EnergyCorrelator``):

* ``e2 = sum_{i<j} z_i z_j theta_ij^beta`` and ``e3 = sum_{i<j<k} z_i z_j z_k (theta_ij theta_ik theta_jk)^beta``
  (arXiv:1305.0007);
* ``1e3 = sum_{i<j<k} z_i z_j z_k min(theta)^beta`` and ``2e3 = sum_{i<j<k} z_i z_j z_k (product of the two
  smallest theta)^beta`` (the generalised correlators of arXiv:1609.07483).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pair_angles", "angular_weights", "ecf2_ecf3", "generalized_ecf3"]

# Jets per sub-block of the triplet loop: the jet axis is the innermost (contiguous) one, so it
# should stay long (>= ~128); the float32 buffers then take about 4 * n^2/4 * block * 4 bytes.
_TRIPLET_BLOCK = 512
_TRIPLET_BYTES = 1 << 25


def pair_angles(rap: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Delta R between all constituent pairs, FastJet's ``delta_R`` (rapidity, |Delta phi| <= pi).

    Entries involving padding are left as computed: every use below weights them by z = 0.

    Args:
        rap, phi: (B, n) rapidity and azimuth of the constituents.

    Returns:
        (B, n, n) float64, zero on the diagonal.
    """
    dphi = np.abs(phi[:, :, None] - phi[:, None, :])  # (B, n, n)
    np.minimum(dphi, 2.0 * np.pi - dphi, out=dphi)
    dphi *= dphi
    dy = rap[:, :, None] - rap[:, None, :]  # (B, n, n)
    dy *= dy
    dy += dphi
    return np.sqrt(dy, out=dy)


def angular_weights(theta: np.ndarray, mask: np.ndarray, beta: float) -> np.ndarray:
    """theta_ij^beta on distinct real pairs, zero on the diagonal and padding. (B, n, n) -> (B, n, n)

    ``beta = 0`` gives one for every distinct pair (contrib's ``pow(dR, 0) == 1``), even at dR = 0.
    """
    if beta == 1:
        return theta
    if beta == 2:
        return theta * theta
    if beta == 0:
        out = (mask[:, :, None] & mask[:, None, :]).astype(np.float64)  # (B, n, n)
        n = mask.shape[1]
        out[:, np.arange(n), np.arange(n)] = 0.0
        return out
    return theta**beta


def ecf2_ecf3(z: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised two- and three-point correlators from one angular weight matrix.

    ``e3 = trace((W D)^3) / 6`` with ``D = diag(z)`` is one batched matrix product.

    Args:
        z: (B, n) momentum fractions.
        weights: (B, n, n) ``theta^beta`` from :func:`angular_weights`.

    Returns:
        e2, e3: (B,) each.
    """
    y = weights * z[:, None, :]  # (B, n, n)  Y = W D
    e2 = 0.5 * np.einsum("bi,bi->b", z, y.sum(axis=2))  # (B,)  z^T W z / 2
    y2 = y @ y  # (B, n, n)
    e3 = np.einsum("bij,bji->b", y2, y) / 6.0  # (B,)
    return e2, e3


def generalized_ecf3(
    z: np.ndarray, theta: np.ndarray, betas: Sequence[float]
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """``1e3`` and ``2e3`` (arXiv:1609.07483) for several betas in one pass over the triplets.

    Triplets ``i < j < k`` are visited with a loop over the middle index ``j`` (the other two
    indices form a rectangle, no gathers) on float32 arrays laid out jet-last so every numpy
    call runs one long contiguous loop; per-triplet sums are accumulated in float64.
    For a triplet with angles ``t = theta_ik``, ``a = theta_ij``, ``c = theta_jk``:
    ``min = min(t, min(a, c))`` and ``two smallest = min(a, c) * min(t, max(a, c))``.

    Args:
        z: (B, n) momentum fractions.
        theta: (B, n, n) pairwise angles from :func:`pair_angles`.
        betas: angular exponents (1 and 2 are fastest).

    Returns:
        ``{beta: (e3_min, e3_two)}`` with (B,) float64 arrays.
    """
    b_total, n = z.shape
    out = np.zeros((2 * len(betas), b_total))  # (2 * n_beta, B)
    real = z > 0  # (B, n) constituents that carry weight
    block = max(1, min(_TRIPLET_BLOCK, _TRIPLET_BYTES // max(4 * n * n, 1)))
    for start in range(0, b_total, block):
        sl = slice(start, start + block)
        n_sub = int(np.flatnonzero(real[sl].any(axis=0)).max(initial=-1)) + 1  # drop empty tail
        if n_sub >= 3:
            out[:, sl] = _triplet_sums(z[sl, :n_sub], theta[sl, :n_sub, :n_sub], betas)
    return {beta: (out[2 * i], out[2 * i + 1]) for i, beta in enumerate(betas)}


def _triplet_sums(z: np.ndarray, theta: np.ndarray, betas: Sequence[float]) -> np.ndarray:
    """Triplet sums for one sub-block. (B, n), (B, n, n) -> (2 * len(betas), B)"""
    b, n = z.shape
    t = np.ascontiguousarray(theta.transpose(1, 2, 0), dtype=np.float32)  # (n, n, B)
    zz = np.ascontiguousarray(z.T, dtype=np.float32)  # (n, B)
    zz64 = zz.astype(np.float64)  # (n, B)
    acc = np.zeros((2 * len(betas), b))  # (2 * n_beta, B)
    size = (n // 2) * ((n + 1) // 2) * b  # largest j * (n - j - 1) * B
    buf_m = np.empty((2, size), np.float32)  # smallest angle, product of the two smallest
    buf_h, buf_y = (np.empty(size, np.float32) for _ in range(2))
    for j in range(1, n - 1):
        nk = n - j - 1
        shape = (j, nk, b)
        cnt = j * nk * b
        m = buf_m[:, :cnt].reshape(2, *shape)  # (2, j, n-j-1, B)
        hi, y = (x[:cnt].reshape(shape) for x in (buf_h, buf_y))
        a = t[:j, j, None, :]  # (j, 1, B)  theta_ij
        c = t[None, j, j + 1 :, :]  # (1, n-j-1, B)  theta_jk
        tik = t[:j, j + 1 :, :]  # (j, n-j-1, B)  theta_ik
        np.minimum(a, c, out=m[1])
        np.maximum(a, c, out=hi)
        np.minimum(tik, m[1], out=m[0])  # smallest angle
        np.minimum(tik, hi, out=hi)
        np.multiply(m[1], hi, out=m[1])  # product of the two smallest angles
        zk = zz[None, j + 1 :, :]  # (1, n-j-1, B)
        zij = zz64[j] * zz64[:j]  # (j, B)  z_i z_j
        for im in range(2):
            # sum_{i,k} z_i z_j z_k m^beta: weight by z_k, reduce over k, then weight by z_i z_j.
            last = None  # the beta of z_k m^beta held in y
            for ib, beta in enumerate(betas):
                if beta == 2 and last == 1:
                    y *= m[im]
                elif beta == 1:
                    np.multiply(m[im], zk, out=y)
                else:
                    np.power(m[im], beta, out=y)
                    y *= zk
                last = beta
                acc[2 * ib + im] += np.einsum("ib,ib->b", zij, np.add.reduce(y, axis=1))
    return acc
