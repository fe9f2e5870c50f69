"""Jet images (kind ``image``): constituent pT deposited on a (Delta eta, Delta phi) pixel grid.

Preprocessing, in order (all vectorised over jets and constituents):

1. coordinates: pseudorapidity and azimuth differences to the jet axis (``jets.jet_p4``, or the
   summed constituents where it is zero);
2. ``center``: ``"centroid"`` moves the pT-weighted centroid to the origin (arXiv:1511.05190,
   1701.08784); ``"leading_subjet"`` moves the hardest of the three exclusive-kt subjets there
   (reclustering the constituents with kt, as DeepTop, arXiv:1612.01551, centres on its leading
   subjet); ``"none"`` keeps the jet axis;
3. ``rotate``: turn the image so that the principal axis of the pT distribution (the largest
   eigenvector of its pT-weighted second-moment matrix) is vertical (arXiv:1511.05190); with
   ``center="leading_subjet"`` the second-hardest subjet is put straight above the centre
   instead (falling back to the principal axis for jets with one subjet);
4. ``flip``: mirror x -> -x (and y -> -y, unless the second subjet fixes the y direction) so that
   the right (upper) half holds at least as much pT as the left (lower) one;
5. pixelise into ``size x size`` pixels spanning ``[-extent/2, extent/2)`` in both directions
   (pixels of ``extent / size``): ``image[j, c, iy, ix]``, row ``iy`` counting up from the most
   negative y (plot with ``origin="lower"``), column ``ix`` from the most negative x;
6. ``normalize``: each channel of each image divided by its sum (``"sum"``) or its maximum
   (``"max"``), or left in GeV / counts (``"none"``); empty channels stay zero.

Channels (arXiv:1701.08784, 1612.01551 use pT, charged pT and charged multiplicity):
``pt``, ``pt_charged``, ``pt_neutral`` (pT of constituents with nonzero / zero charge),
``n``, ``n_charged``, ``n_neutral`` (constituent counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from colliderlab import kinematics as kin
from colliderlab.features.orientation import orient, per_jet_sum
from colliderlab.features.particles import check_jets, jet_axis
from colliderlab.features.representations import check_finite, register_representation
from colliderlab.jets import JetBatch
from colliderlab.physics.substructure import clustering as _cluster

__all__ = ["CHANNELS", "CENTERS", "NORMALIZATIONS", "ImageConfig", "jet_images", "average_images"]

CHANNELS: tuple[str, ...] = ("pt", "pt_charged", "pt_neutral", "n", "n_charged", "n_neutral")
CENTERS: tuple[str, ...] = ("centroid", "leading_subjet", "none")
NORMALIZATIONS: tuple[str, ...] = ("sum", "max", "none")
_N_SUBJETS = 3


def _subjets(jets: JetBatch) -> np.ndarray:
    """The exclusive-kt subjets of each jet (at most three), hardest first. (J, 3, 4)"""
    mult = jets.mask.sum(axis=1)
    n = max(int(mult.max()) if len(mult) else 0, 1)
    slots = np.argsort(~jets.mask, axis=1, kind="stable")[:, :n]  # (J, n) real ones first
    keep = np.take_along_axis(jets.mask, slots, axis=1)
    p4 = np.take_along_axis(jets.p4.astype(np.float64), slots[:, :, None], axis=1)
    p4[~keep] = 0.0
    sub = _cluster.cluster(p4, keep, "kt").exclusive_jets(_N_SUBJETS)  # (J, 3, 4)
    order = np.argsort(-kin.pt(sub), axis=1, kind="stable")
    return np.take_along_axis(sub, order[:, :, None], axis=1)


def _centre(
    jets: JetBatch, center: str, rows: np.ndarray, pt: np.ndarray, x: np.ndarray, y: np.ndarray,
    axis: np.ndarray, inv_sum: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Move the constituents' (x, y) (K,) to the image centre; with ``leading_subjet`` also the
    direction (J, 2) of the second subjet from the centre where it exists (else ``None``)."""
    n_jets = len(inv_sum)
    second = None  # (J, 2) direction of the second subjet from the centre, where it exists
    if center == "centroid":
        x = x - (per_jet_sum(rows, pt * x, n_jets) * inv_sum)[rows]
        y = y - (per_jet_sum(rows, pt * y, n_jets) * inv_sum)[rows]
    elif center == "leading_subjet":
        sub = _subjets(jets)  # (J, 3, 4)
        has = kin.pt(sub) > 0  # (J, 3)
        sx = np.where(has, kin.eta(sub) - kin.eta(axis)[:, None], 0.0)  # (J, 3)
        sy = np.where(has, kin.delta_phi(kin.phi(sub), kin.phi(axis)[:, None]), 0.0)
        x, y = x - sx[rows, 0], y - sy[rows, 0]
        second = np.stack(
            [sx[:, 1] - sx[:, 0], kin.wrap_phi(sy[:, 1] - sy[:, 0])], axis=1
        )  # (J, 2)
        second[~has[:, 1]] = 0.0
    elif center != "none":
        raise ValueError(f"unknown image center {center!r}; valid: {', '.join(map(repr, CENTERS))}")
    return x, y, second


def jet_images(
    jets: JetBatch,
    *,
    size: int = 40,
    extent: float = 1.6,
    channels: tuple[str, ...] = ("pt",),
    center: str = "centroid",
    rotate: bool = True,
    flip: bool = True,
    normalize: str = "sum",
) -> np.ndarray:
    """Jet images, preprocessed as the module docstring says. (J, C, size, size) float32"""
    bad = [c for c in channels if c not in CHANNELS]
    if bad or not channels:
        raise ValueError(f"unknown or no image channel(s) {bad}; valid: {', '.join(CHANNELS)}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(
            f"unknown image normalize {normalize!r}; valid: {', '.join(map(repr, NORMALIZATIONS))}"
        )
    n_jets = len(jets)
    rows, cols = np.nonzero(jets.mask)  # (K,) every real constituent: jet index and slot
    p4 = jets.p4[rows, cols].astype(np.float64)  # (K, 4)
    pt = kin.pt(p4)  # (K,)
    axis = jet_axis(jets)  # (J, 4)
    x = kin.eta(p4) - kin.eta(axis)[rows]  # (K,)
    y = kin.delta_phi(kin.phi(p4), kin.phi(axis)[rows])  # (K,)
    sumpt = per_jet_sum(rows, pt, n_jets)  # (J,)
    inv_sum = np.divide(1.0, sumpt, out=np.zeros(n_jets), where=sumpt > 0)

    x, y, second = _centre(jets, center, rows, pt, x, y, axis, inv_sum)
    x, y = orient(rows, pt, x, y, n_jets, rotate=rotate, flip=flip, second=second)

    pix = extent / size
    ix = np.floor((x + 0.5 * extent) / pix)  # (K,)
    iy = np.floor((y + 0.5 * extent) / pix)
    inside = (ix >= 0) & (ix < size) & (iy >= 0) & (iy < size)
    n_ch = len(channels)
    base = (rows * n_ch * size + iy.astype(np.int64)) * size + ix.astype(np.int64)  # (K,) channel 0
    charged = jets.charge[rows, cols] != 0  # (K,)
    weights = {
        "pt": pt,
        "pt_charged": pt * charged,
        "pt_neutral": pt * ~charged,
        "n": np.ones_like(pt),
        "n_charged": charged.astype(np.float64),
        "n_neutral": (~charged).astype(np.float64),
    }
    flat = np.concatenate([base[inside] + c * size * size for c in range(n_ch)])
    w = np.concatenate([weights[ch][inside] for ch in channels])
    image = np.bincount(flat, weights=w, minlength=n_jets * n_ch * size * size)
    image = image.reshape(n_jets, n_ch, size, size)  # (J, C, H, W)
    if normalize != "none":
        scale = image.sum(axis=(2, 3)) if normalize == "sum" else image.max(axis=(2, 3))  # (J, C)
        image *= np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)[:, :, None, None]
    return image.astype(np.float32)


def average_images(
    images: np.ndarray, labels: np.ndarray, n_classes: int | None = None
) -> np.ndarray:
    """Mean image of each class (for plots).

    Args:
        images: (J, C, H, W); labels: (J,) integer class of each jet.
        n_classes: number of classes K (default ``labels.max() + 1``); empty classes give zeros.

    Returns:
        (K, C, H, W) float64.
    """
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if images.ndim != 4 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"average_images expects images (J, C, H, W) and labels (J,), got {images.shape} "
            f"and {labels.shape}"
        )
    k = int(n_classes) if n_classes is not None else int(labels.max(initial=-1)) + 1
    out = np.zeros((k, *images.shape[1:]))  # (K, C, H, W)
    for c in range(k):  # a loop over classes
        members = labels == c
        if members.any():
            out[c] = images[members].mean(axis=0, dtype=np.float64)
    return out


@register_representation
@dataclass(frozen=True)
class ImageConfig:
    """Jet images (arXiv:1511.05190, 1612.01551, 1701.08784), see :mod:`.images`.

    Arrays: ``image`` (J, C, size, size) float32, C = ``len(channels)``; not standardised.
    """

    kind: ClassVar[str] = "image"
    standardize: ClassVar[tuple[str, ...]] = ()

    size: int = 40
    extent: float = 1.6
    channels: tuple[str, ...] = ("pt",)
    center: str = "centroid"
    rotate: bool = True
    flip: bool = True
    normalize: str = "sum"

    def __post_init__(self) -> None:
        channels = (self.channels,) if isinstance(self.channels, str) else tuple(self.channels)
        object.__setattr__(self, "channels", channels)
        bad = [c for c in channels if c not in CHANNELS]
        if bad or not channels:
            raise ValueError(f"image: unknown or no channel(s) {bad}; valid: {', '.join(CHANNELS)}")
        for name, value, valid in (
            ("center", self.center, CENTERS),
            ("normalize", self.normalize, NORMALIZATIONS),
        ):
            if value not in valid:
                raise ValueError(
                    f"image: unknown {name} {value!r}; valid: {', '.join(map(repr, valid))}"
                )
        if not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ValueError(f"image: size must be a positive integer, got {self.size!r}")
        if not isinstance(self.extent, (int, float)) or not self.extent > 0:
            raise ValueError(f"image: extent must be a positive number, got {self.extent!r}")

    def compute(self, jets: JetBatch) -> dict[str, np.ndarray]:
        check_jets(jets, f"{self.kind} representation")
        image = jet_images(
            jets,
            size=self.size,
            extent=float(self.extent),
            channels=self.channels,
            center=self.center,
            rotate=self.rotate,
            flip=self.flip,
            normalize=self.normalize,
        )
        out = {"image": image}
        check_finite(out, what=f"{self.kind} representation")
        return out

    def dims(self, arrays: dict[str, np.ndarray]) -> dict[str, int]:
        image = arrays["image"]
        return {"in_channels": int(image.shape[1]), "image_size": int(image.shape[-1])}

    def feature_names(self) -> tuple[str, ...]:
        return self.channels

    def input_fields(self) -> frozenset[str]:
        """The JetBatch fields read: four-vectors and the jet axis, plus ``charge`` for the
        charged/neutral channels."""
        charged = any(c not in ("pt", "n") for c in self.channels)
        return frozenset(("p4", "mask", "jet_p4", *(("charge",) if charged else ())))
