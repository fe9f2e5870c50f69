"""A worker for tests/train/test_ddp.py, started by ``torch.distributed.run``: trains a small
DNN with :class:`Trainer` on a dataset whose rank shares have different sizes (rank 0 takes 3/4
of the jets, so 3x the steps of rank 1), then resumes the run for one more epoch, and checks
what DDP refuses (a model's own training_step, a global batch that does not divide). Each rank
writes ``OUT/<phase>/rank<R>.json`` (steps, history, parameter hash) through
``COLLIDERLAB_DDP_DEBUG_DIR``."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from colliderlab.data.dataset import ArrayDataset
from colliderlab.models.dnn import DNN, DNNConfig
from colliderlab.train.distributed import DEBUG_DIR_ENV, distributed
from colliderlab.train.trainer import Trainer, TrainerConfig


class UnevenShares:
    """An :class:`ArrayDataset` whose ``for_rank`` splits it 3:1 between two ranks (as shards
    of a streaming sample might), instead of the even :class:`RankShard`."""

    def __init__(self, ds: ArrayDataset) -> None:
        self.ds = ds
        self.labels, self.class_names, self.weights = ds.labels, ds.class_names, ds.weights

    def __len__(self) -> int:
        return len(self.ds)

    def batches(self, *args, **kwargs):
        return self.ds.batches(*args, **kwargs)

    def for_rank(self, rank: int, world_size: int) -> ArrayDataset:
        cut = 3 * len(self.ds) // 4
        return self.ds.subset(slice(0, cut) if rank == 0 else slice(cut, len(self.ds)))


def main(out: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=160) > 0).astype(np.int64)
    full = ArrayDataset({"x": x}, y, ("b", "s"))
    train, val = UnevenShares(full.subset(slice(0, 128))), full.subset(slice(128, 160))
    config = TrainerConfig(epochs=2, batch_size=16, optimizer="adam", lr=3e-3, schedule="cosine", patience=0,
                           device="cpu", progress=False, amp=False)
    with distributed("cpu") as ctx:
        for phase, epochs in (("uneven", 2), ("resumed", 3)):
            os.environ[DEBUG_DIR_ENV] = str(out / phase)
            torch.manual_seed(0)
            model = DNN(DNNConfig(n_features=6, hidden=(16, 16), batch_norm=False, dropout=0.0))
            trainer = Trainer(model, replace(config, epochs=epochs), out / "run")
            result = trainer.fit(train, val, resume=True)
            assert ctx.world_size == 2 and len(result.history) == epochs, (ctx, result)
        _refusals(config)


class OwnStep(torch.nn.Module):
    """A model with its own training_step (as GANs and flows have)."""

    input_names = ("x",)

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(6, 2)

    def training_step(self, batch, ctx):  # pragma: no cover - never reached under DDP
        raise AssertionError


def _refusals(config: TrainerConfig) -> None:
    """Under DDP: a custom training_step, and a global batch that does not divide, are refused."""
    for model, cfg, what in ((OwnStep(), config, "training_step"), (OwnStep().lin, replace(config, batch_size=15),
                                                                     "divide evenly")):
        try:
            Trainer(model, cfg)
        except (NotImplementedError, ValueError) as err:
            assert what in str(err), err
        else:
            raise AssertionError(f"not refused: {what}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
