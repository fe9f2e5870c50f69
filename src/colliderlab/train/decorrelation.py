"""Mass decorrelation through the trainer's loss terms: the DisCo regulariser (Kasieczka and Shih,
arXiv:2001.05310).

``Trainer(model, config, loss_terms={"disco": disco_term(10.0, "mass")})`` adds
lambda x dCorr^2(signal score, variable) over the background jets of each batch
(:func:`colliderlab.nn.disco.distance_correlation`, with the batch's event weights) to the
classification loss. The variable travels in the batch as an auxiliary array the model does not read
(``ArrayDataset({..., "mass": m}, ...)``). Batches need enough background jets for dCorr to be
meaningful (the paper uses batches of thousands); with fewer than two the term is zero.
"""

from __future__ import annotations

from typing import Any

from colliderlab.train.hooks import LossTerm

__all__ = ["disco_term"]


def disco_term(weight: float, variable: str = "mass", *, signal_index: int = 1) -> LossTerm:
    """The DisCo loss term ``weight x dCorr^2(softmax(outputs)[:, signal_index], batch[variable])`` on the
    batch's background jets (label != ``signal_index``).

    Raises (when called):
        ValueError: the batch carries no ``variable`` (the message lists the arrays it does carry).
    """
    if weight < 0:
        raise ValueError(f"the DisCo weight must be >= 0, got {weight}")

    def term(outputs: Any, batch: Any) -> Any:
        import torch

        from colliderlab.nn.disco import distance_correlation

        if variable not in batch:
            valid = sorted(k for k in batch if k not in ("label", "weight"))
            raise ValueError(f"DisCo decorrelates against {variable!r}, which the dataset does not carry; "
                             f"its arrays: {', '.join(valid)}")
        bkg = batch["label"] != signal_index
        if int(bkg.sum()) < 2:
            return outputs.sum() * 0.0
        score = torch.softmax(outputs.float(), dim=1)[:, signal_index][bkg]
        var = batch[variable].float().reshape(len(outputs), -1)[:, 0][bkg]
        return weight * distance_correlation(score, var, batch["weight"].float()[bkg])

    return term
