"""Training and inference speed of colliderlab's ParticleNet and ParT against weaver-core's (issue #3).

weaver-core (github.com/hqucms/weaver-core) is the reference implementation by the authors of
ParticleNet (arXiv:1902.08570) and ParT (arXiv:2202.03772). It is never a colliderlab dependency:
it lives in a side venv pinned to the same torch, and this one script runs in both interpreters
(weaver is imported only under ``--side weaver``)::

    python3.11 -m venv .venv-weaver
    .venv-weaver/bin/pip install 'torch>=2.4,<2.14' numpy
    .venv-weaver/bin/pip install --no-deps weaver-core   # only weaver/nn/model is used

Driver (default, run with the main venv): reads real jets (``--jets FILE``, or generates a
``toptag`` sample of ``--n-jets`` jets per class into ``--work-dir``), computes the ``particles``
representation (7 kinematic features of the ParticleNet paper, standardised over the real
particles; the ``--particles`` hardest constituents), shuffles the jets with a fixed seed and
saves the arrays to one .npz that both sides load. For each model it starts ``--side ours``
with its own interpreter and ``--side weaver`` with ``--weaver-python`` (one long-lived process
per side: build, warm up, then time on request) and alternates the repetitions between them
(ABBA order), so that a shared machine's load falls on both sides alike. It prints a table (or
``--json``) of median wall-clock throughput, plus jets per CPU-second (``time.process_time``),
the steadier figure when other jobs compete for the cores.

Each side builds its model with the same hyper-parameters: colliderlab's from the registry
(``create_model(name, preset, n_features=F, n_classes=2)``), weaver's from that model's config
(passed as JSON; see :func:`weaver_kwargs`); both parameter counts are reported. Inputs are the
same numbers in each implementation's own layout: channels-last ``(B, N, C)`` plus a bool mask
``(B, N)`` for colliderlab, channels-first ``(B, C, N)`` plus a float mask ``(B, 1, N)`` for
weaver, whose ParT takes four-momenta as (px, py, pz, E). Layout conversion is not timed.

Training: ``--steps`` steps (forward, cross-entropy, backward, ``Adam.step``, lr 1e-3) cycling
over the ``J // batch`` batches, after ``--warmup`` untimed steps; ``--repeats`` runs, median
reported as jets/s and ms/step. ``--inference`` adds eval-mode throughput under ``torch.no_grad()`` at each
of ``--inference-batches``: batch 1 runs ``--single-jets`` jets one at a time, larger batches
one forward pass per run (jets repeated when the sample is smaller than the batch).

weaver's models trim the padded particle axis by default (``trim=True``, ``SequenceTrimmer``):
after 5 warm-up calls, each training batch is cut to a random 90-100% quantile of its jets'
particle counts (with the particles shuffled), and each eval batch to its largest count. That is
the reference's shipped behaviour (its example configs keep it on); ``--weaver-trim off`` times
it on the full padded axis like colliderlab, ``both`` reports the two.

    python benchmarks/bench_weaver_speed.py [--models particlenet,part] [--preset paper]
        [--jets FILE | --n-jets 500] [--batch 128] [--particles 100] [--threads 2]
        [--steps 50] [--repeats 5] [--inference] [--inference-batches 1,1024]
        [--weaver-trim on|off|both] [--weaver-python PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

MODELS = ("particlenet", "part")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_WEAVER_PYTHON = REPO / ".venv-weaver" / "bin" / "python"
RESULT_TAG = "BENCH-RESULT "
# weaver's SequenceTrimmer passes its first 5 calls through untouched: warm up past them.
MIN_WARMUP = 6


# --------------------------------------------------------------------------------------------
# Inputs (driver, main venv only).
# --------------------------------------------------------------------------------------------
def build_inputs(jets_path: Path, n_particles: int, out: Path, seed: int = 0) -> dict[str, Any]:
    """Write the shuffled, standardised ``particles`` arrays of ``jets_path`` to ``out`` (.npz).

    Arrays: ``x`` (J, N, 7) float32 standardised over real particles, ``mask`` (J, N) bool,
    ``coords`` (J, N, 2) (Delta eta, Delta phi), ``p4`` (J, N, 4) (E, px, py, pz), ``label`` (J,).
    Returns a summary (jets, mean real particles).
    """
    from colliderlab.data.readers import read_jets
    from colliderlab.features.particles import ParticlesConfig

    jets = read_jets(jets_path)
    arrays = ParticlesConfig(n_particles=n_particles, features="kinematic").compute(jets)
    mask = arrays["mask"]  # (J, N)
    real = arrays["x"][mask]  # (R, F)
    mean, std = real.mean(0), np.maximum(real.std(0), 1e-6)  # (F,)
    x = np.where(mask[..., None], (arrays["x"] - mean) / std, 0.0).astype(np.float32)  # (J, N, F)
    order = np.random.default_rng(seed).permutation(len(mask))  # mix the classes in every batch
    np.savez(
        out,
        x=x[order],
        mask=mask[order],
        coords=arrays["coords"][order],
        p4=arrays["p4"][order],
        label=np.asarray(jets.label, np.int64)[order],
    )
    n_real = mask.sum(1)
    return {
        "jets": int(len(mask)),
        "particles": int(mask.shape[1]),
        "mean_real": float(n_real.mean()),
        "max_real": int(n_real.max()),
    }


def sample_jets(work_dir: Path, n_jets: int) -> Path:
    """A ``toptag`` sample of ``n_jets`` jets per class in ``work_dir`` (generated once)."""
    path = work_dir / f"toptag_{n_jets}.h5"
    if not path.exists():
        from colliderlab.data.generate import generate_preset

        generate_preset("toptag", n_jets, path, progress=False)
    return path


# --------------------------------------------------------------------------------------------
# Models and input layouts (each side).
# --------------------------------------------------------------------------------------------
def weaver_kwargs(name: str, cfg: dict[str, Any], trim: bool) -> dict[str, Any]:
    """weaver-core constructor arguments equivalent to colliderlab's config dict ``cfg``.

    ParticleNet: colliderlab has no input batch norm (its features come standardised) and no
    fusion block, as the paper's network and weaver's example config (``use_fusion=False``);
    ``use_counts`` is the mean over real particles. ParT: see :func:`part_weaver_kwargs`.
    """
    if name == "particlenet":
        return {
            "input_dims": cfg["n_features"],
            "num_classes": cfg["n_classes"],
            "conv_params": [(cfg["k"], tuple(d)) for d in cfg["conv_dims"]],
            "fc_params": [(w, cfg["dropout"]) for w in cfg["fc_dims"]],
            "use_fusion": False,
            "use_fts_bn": False,
            "use_counts": True,
            "trim": trim,
        }
    if name == "part":
        return part_weaver_kwargs(cfg, trim)
    raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")


def part_weaver_kwargs(cfg: dict[str, Any], trim: bool) -> dict[str, Any]:
    """weaver-core ``ParticleTransformer`` arguments for colliderlab's ParT config ``cfg``.

    Both: ``LayerNorm -> Linear -> GELU`` embedding, pair embedding ``BN(4)`` then
    ``Linear/Conv1d -> BN -> GELU`` layers and a last map to one bias per head, NormFormer blocks
    with head and residual scales, class-attention blocks without dropout, a final LayerNorm and
    ``fc_dims`` ReLU layers before the output layer. ``use_pre_activation_pair=True`` leaves the
    GELU off weaver's last pair layer, as colliderlab's (see :func:`match_weaver`).
    """
    drop = cfg["dropout"]
    return {
        "input_dim": cfg["n_features"],
        "num_classes": cfg["n_classes"],
        "pair_input_type": "pp",
        "pair_input_dim": 4,
        "use_pre_activation_pair": True,
        "embed_dims": list(cfg["embed_dims"]),
        "pair_embed_dims": list(cfg["pair_embed_dims"]) if cfg["use_pair"] else None,
        "num_heads": cfg["num_heads"],
        "num_layers": cfg["num_layers"],
        "num_cls_layers": cfg["num_cls_layers"],
        "block_params": {
            "ffn_ratio": cfg["ffn_ratio"],
            "dropout": drop,
            "attn_dropout": drop,
            "activation_dropout": drop,
        },
        "cls_block_params": {"dropout": 0, "attn_dropout": 0, "activation_dropout": 0},
        "fc_params": [(w, cfg["fc_dropout"]) for w in cfg["fc_dims"]],
        "activation": "gelu",
        "trim": trim,
    }


def match_weaver(name: str, model: torch.nn.Module) -> torch.nn.Module:
    """Drop the weaver-core ParT parameters that colliderlab's ParT does not have.

    weaver's ``Embed`` always batch-normalises the input features (``input_bn``; colliderlab's
    inputs come standardised), its pair embedding ends with a ``BatchNorm1d(num_heads)`` after
    the last 1x1 convolution (colliderlab's ends with the linear map), and its pair convolutions
    followed by a batch norm carry a bias that the batch norm cancels (colliderlab's have none).
    Removing them (identity maps, no bias) only makes weaver's step cheaper.
    """
    if name != "part":
        return model
    model.embed.input_bn = torch.nn.Identity()  # (None would skip the (B, F, N) -> (B, N, F) transpose)
    if model.pair_embed is not None:
        layers = model.pair_embed.embed
        if isinstance(layers[-1], torch.nn.BatchNorm1d):
            layers[-1] = torch.nn.Identity()
        for conv, nxt in zip(layers[:-1], layers[1:], strict=True):
            if isinstance(conv, torch.nn.Conv1d) and isinstance(nxt, torch.nn.BatchNorm1d):
                conv.bias = None
    return model


def build_model(
    side: str,
    name: str,
    preset: str,
    n_features: int,
    cfg: dict | None,
    trim: bool,
    for_inference: bool = False,
) -> torch.nn.Module:
    """The model of ``side`` (seeded); colliderlab's from the registry, weaver's from ``cfg``.

    ``for_inference`` builds weaver's deployment variant (its ``for_inference=True``: no trimming,
    a CPU-friendly neighbour gather in ParticleNet, dense pair embedding in ParT, a softmax on
    the output); colliderlab's model is the same either way.
    """
    torch.manual_seed(0)
    if side == "ours":
        from colliderlab.models.registry import create_model

        return create_model(name, preset, n_features=n_features, n_classes=2)
    kwargs = {**weaver_kwargs(name, cfg, trim), "for_inference": for_inference}
    if name == "particlenet":
        from weaver.nn.model.ParticleNet import ParticleNet

        return ParticleNet(**kwargs)
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    return match_weaver(name, ParticleTransformer(**kwargs))


def make_inputs(
    side: str, name: str, model: torch.nn.Module, data: dict[str, np.ndarray], idx: np.ndarray
) -> tuple[torch.Tensor, ...]:
    """The forward arguments of jets ``idx`` in the layout of ``side``'s model."""

    def t(key: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(data[key][idx]))

    if side == "ours":
        arrays = {"x": t("x"), "mask": t("mask"), "coords": t("coords"), "p4": t("p4")}
        return tuple(arrays[k] for k in model.input_names)
    mask = t("mask").unsqueeze(1).float()  # (B, 1, N)
    feats = t("x").transpose(1, 2).contiguous()  # (B, F, N)
    if name == "particlenet":
        points = t("coords").transpose(1, 2).contiguous()  # (B, 2, N)
        return points, feats, mask
    v = t("p4")[..., [1, 2, 3, 0]].transpose(1, 2).contiguous()  # (B, 4, N) (px, py, pz, E)
    return feats, v, mask


# --------------------------------------------------------------------------------------------
# Timing (each side).
# --------------------------------------------------------------------------------------------
class Bench:
    """One side's model, inputs and optimiser, timed on request (lives in the side process)."""

    def __init__(self, args: argparse.Namespace) -> None:
        torch.set_num_threads(args.threads)
        with np.load(args.data) as f:
            self.data = {k: f[k] for k in f.files}
        self.args = args
        self.n_jets, n_features = self.data["x"].shape[0], self.data["x"].shape[-1]
        self.cfg = json.loads(args.config) if args.config else None
        self.trim = args.weaver_trim == "on"
        self.model = build_model(args.side, args.model, args.preset, n_features, self.cfg, self.trim)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        n_batches = max(1, self.n_jets // args.batch)
        self.batches = []
        for b in range(n_batches):
            idx = np.arange(b * args.batch, (b + 1) * args.batch) % self.n_jets
            self.batches.append((self.inputs(idx), torch.from_numpy(self.data["label"][idx])))
        self.n_steps = 0
        self.calls: dict[int, list[tuple[torch.Tensor, ...]]] = {}
        self.infer_model: torch.nn.Module | None = None

    def inputs(self, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        return make_inputs(self.args.side, self.args.model, self.model, self.data, idx)

    def meta(self) -> dict[str, Any]:
        a = self.args
        row: dict[str, Any] = {
            "side": a.side,
            "model": a.model,
            "impl": "colliderlab" if a.side == "ours" else f"weaver-core (trim {a.weaver_trim})",
            "params": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        if a.side == "ours":
            import dataclasses

            row["config"] = dataclasses.asdict(self.model.config)
        else:
            row["weaver_kwargs"] = weaver_kwargs(a.model, self.cfg, self.trim)
        return row

    def step(self) -> None:
        """One training step: forward, cross-entropy, backward, Adam."""
        inputs, labels = self.batches[self.n_steps % len(self.batches)]
        self.n_steps += 1
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(self.model(*inputs), labels)
        loss.backward()
        self.opt.step()

    def warmup(self, n: int) -> None:
        """``n`` untimed calls (training steps, or eval forwards when no training is timed)."""
        for i in range(n):
            if self.args.steps > 0:
                self.step()
            else:
                self.model.eval()
                with torch.no_grad():
                    self.model(*self.inputs(np.arange(i, i + 8) % self.n_jets))

    def time_train(self) -> dict[str, float]:
        """Wall and CPU seconds for ``--steps`` training steps."""
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(self.args.steps):
            self.step()
        return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}

    def time_infer(self, batch: int) -> dict[str, float]:
        """Wall and CPU seconds of one eval-mode pass over ``batch`` jets (``--single-jets`` calls at 1)."""
        if self.infer_model is None:  # weaver's deployment variant; colliderlab's own model
            self.infer_model = self.model
            if self.args.side == "weaver":
                a = self.args
                n_features = self.data["x"].shape[-1]
                self.infer_model = build_model(
                    a.side, a.model, a.preset, n_features, self.cfg, self.trim, for_inference=True
                )
        model = self.infer_model
        model.eval()
        with torch.no_grad():
            if batch not in self.calls:
                if batch == 1:
                    n = self.args.single_jets
                    self.calls[1] = [self.inputs(np.array([i % self.n_jets])) for i in range(n)]
                else:
                    self.calls[batch] = [self.inputs(np.arange(batch) % self.n_jets)]
                model(*self.calls[batch][0])  # untimed first call at this size
            t0, c0 = time.perf_counter(), time.process_time()
            for args in self.calls[batch]:
                model(*args)
            return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def serve(args: argparse.Namespace) -> None:
    """Side process: build, warm up, print the meta row, then answer ``train`` / ``infer B`` / ``quit``.

    Each answer is one line ``BENCH-RESULT {json}`` on stdout (weaver may log other lines).
    """
    bench = Bench(args)
    bench.warmup(max(args.warmup, MIN_WARMUP))
    print(RESULT_TAG + json.dumps(bench.meta()), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "train":
            out = bench.time_train()
        elif cmd[0] == "infer":
            out = bench.time_infer(int(cmd[1]))
        else:
            out = {"error": f"unknown command {line.strip()!r}"}
        print(RESULT_TAG + json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------------
def _side_cmd(
    python: Path | str, side: str, model: str, data: Path, args: argparse.Namespace,
    config: dict | None = None, trim: str = "on",
) -> list[str]:
    cmd = [
        str(python), str(Path(__file__).resolve()), "--side", side, "--model", model,
        "--data", str(data), "--preset", args.preset, "--batch", str(args.batch),
        "--threads", str(args.threads), "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--single-jets", str(args.single_jets), "--weaver-trim", trim,
    ]
    if config is not None:
        cmd += ["--config", json.dumps(config)]
    return cmd


class SideProcess:
    """A running ``--side`` process: ``ask(command)`` returns its JSON answer."""

    def __init__(self, cmd: list[str], threads: int) -> None:
        self.cmd = cmd
        self.label = f"{cmd[cmd.index('--model') + 1]} {cmd[cmd.index('--side') + 1]}"
        if cmd[cmd.index("--side") + 1] == "weaver":
            self.label += f" (trim {cmd[cmd.index('--weaver-trim') + 1]})"
        self.err = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
            env=env, cwd=REPO,
        )
        self.meta = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(RESULT_TAG):
                out = json.loads(line[len(RESULT_TAG):])
                if "error" in out:
                    raise RuntimeError(out["error"])
                return out
        self.proc.wait()
        self.err.seek(0)
        raise RuntimeError(
            f"benchmark side {' '.join(self.cmd[2:6])} died (exit {self.proc.returncode}):\n"
            f"{self.err.read()[-3000:]}"
        )

    def ask(self, command: str) -> dict[str, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait()
        self.err.close()


def _interleaved(sides: list[SideProcess], command: str, repeats: int) -> list[dict[str, Any]]:
    """``repeats`` wall/CPU timings of ``command`` per side, the sides alternating (ABBA order).

    Returns per side the runs' wall seconds, CPU seconds and their medians.
    """
    runs: list[list[dict[str, float]]] = [[] for _ in sides]
    for r in range(repeats):
        order = range(len(sides)) if r % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            t = sides[i].ask(command)
            runs[i].append(t)
            print(
                f"  {sides[i].label} {command}: {t['seconds']:.2f} s (CPU {t['cpu_seconds']:.2f} s)",
                file=sys.stderr, flush=True,
            )
    return [
        {
            "runs_s": [t["seconds"] for t in rs],
            "cpu_runs_s": [t["cpu_seconds"] for t in rs],
            "median_s": statistics.median(t["seconds"] for t in rs),
            "median_cpu_s": statistics.median(t["cpu_seconds"] for t in rs),
        }
        for rs in runs
    ]


def time_model(name: str, data: Path, args: argparse.Namespace, trims: list[str]) -> list[dict]:
    """Result rows of colliderlab's ``name`` and weaver-core's (one per trim setting)."""
    ours = SideProcess(_side_cmd(sys.executable, "ours", name, data, args), args.threads)
    sides = [ours]
    try:
        for trim in trims:
            cmd = _side_cmd(args.weaver_python, "weaver", name, data, args, ours.meta["config"], trim)
            sides.append(SideProcess(cmd, args.threads))
        rows = [dict(s.meta) for s in sides]
        if args.steps > 0:
            for row, t in zip(rows, _interleaved(sides, "train", args.repeats), strict=True):
                jets = args.batch * args.steps
                row["train"] = {
                    "batch": args.batch,
                    "steps": args.steps,
                    "ms_per_step": 1e3 * t["median_s"] / args.steps,
                    "jets_per_s": jets / t["median_s"],
                    "jets_per_cpu_s": jets / t["median_cpu_s"],
                    **t,
                }
        if args.inference:  # weaver's deployment variant, whatever the trim setting: time it once
            for row in rows[:2]:
                row["inference"] = []
            for batch in args.inference_batches:
                jets = args.single_jets if batch == 1 else batch
                timings = _interleaved(sides[:2], f"infer {batch}", args.repeats)
                for row, t in zip(rows[:2], timings, strict=True):
                    row["inference"].append(
                        {
                            "batch": batch,
                            "jets_per_s": jets / t["median_s"],
                            "jets_per_cpu_s": jets / t["median_cpu_s"],
                            **t,
                        }
                    )
    finally:
        for s in sides:
            s.close()
    return rows


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def print_table(summary: dict[str, Any], args: argparse.Namespace) -> None:
    s = summary["sample"]
    print(
        f"{s['jets']} toptag jets ({s['mean_real']:.0f} real particles on average, max "
        f"{s['max_real']}, in {s['particles']} slots), torch {summary['torch']}, "
        f"{args.threads} threads; training: batch {args.batch}, median of {args.repeats} x "
        f"{args.steps} steps (forward + cross-entropy + backward + Adam); sides interleaved"
    )
    if args.inference:
        print(
            f"inference: eval mode, no_grad, median of {args.repeats} (batch 1: {args.single_jets} "
            "jets one by one); weaver-core built with for_inference=True (its deployment variant)"
        )
    print()
    inf_batches = args.inference_batches if args.inference else []
    head = "| model | implementation | params | train ms/step | train jets/s | jets/CPU-s |"
    head += "".join(f" infer b={b} jets/s |" for b in inf_batches)
    print(head)
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(inf_batches))
    for r in summary["results"]:
        tr = r.get("train")
        inf = {i["batch"]: i["jets_per_s"] for i in r.get("inference", [])}
        print(
            f"| {r['model']} | {r['impl']} | {r['params']:,} | "
            f"{'-' if tr is None else format(tr['ms_per_step'], ',.0f')} | "
            f"{_fmt(tr and tr['jets_per_s'])} | {_fmt(tr and tr['jets_per_cpu_s'])} |"
            + "".join(f" {_fmt(inf.get(b))} |" for b in inf_batches)
        )
    print()
    for m, ratio in summary["ratios"].items():
        if ratio:
            print(f"{m}: colliderlab / weaver-core jets/s: " + "; ".join(
                f"{k} {v:.2f}" for k, v in ratio.items()))


def _ratios(rows: list[dict]) -> dict[str, float]:
    """colliderlab jets/s over weaver-core's, per weaver row and measurement."""
    ours, out = rows[0], {}
    for theirs in rows[1:]:
        tag = theirs["impl"].split("(")[-1].rstrip(")")
        if "train" in ours:
            out[f"train ({tag})"] = ours["train"]["jets_per_s"] / theirs["train"]["jets_per_s"]
        if "inference" in ours and "inference" in theirs:
            for a, b in zip(ours["inference"], theirs["inference"], strict=True):
                out[f"infer b={a['batch']}"] = a["jets_per_s"] / b["jets_per_s"]
    return out


def drive(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare the inputs, time every model on both sides, collect the rows."""
    if not Path(args.weaver_python).exists():
        raise SystemExit(
            f"no weaver-core interpreter at {args.weaver_python}; create the side venv:\n"
            "  python3.11 -m venv .venv-weaver\n"
            "  .venv-weaver/bin/pip install 'torch>=2.4,<2.14' numpy\n"
            "  .venv-weaver/bin/pip install --no-deps weaver-core"
        )
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    jets = Path(args.jets) if args.jets else sample_jets(work, args.n_jets)
    data = work / "inputs.npz"
    sample = build_inputs(jets, args.particles, data)
    trims = ["on", "off"] if args.weaver_trim == "both" else [args.weaver_trim]
    results, ratios = [], {}
    for name in args.models:
        print(f"timing {name} ...", file=sys.stderr, flush=True)
        rows = time_model(name, data, args, trims)
        results += rows
        ratios[name] = _ratios(rows)
    return {
        "sample": {**sample, "file": str(jets)},
        "torch": torch.__version__,
        "args": {k: v for k, v in vars(args).items() if k not in ("side", "config")},
        "results": results,
        "ratios": ratios,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", choices=["ours", "weaver"], help="internal: time one side")
    ap.add_argument("--model", choices=MODELS, help="internal: the model of --side")
    ap.add_argument("--data", help="internal: the .npz of the inputs")
    ap.add_argument("--config", help="internal: colliderlab's config as JSON (weaver side)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--jets", help="jet file (any format colliderlab reads); default: generate")
    ap.add_argument("--n-jets", type=int, default=500, help="generated jets per class")
    ap.add_argument("--work-dir", default=str(REPO / "runs" / "bench_weaver"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50, help="timed training steps per run (0: none)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=MIN_WARMUP, help=f"untimed calls (>= {MIN_WARMUP})")
    ap.add_argument("--inference", action="store_true", help="also time eval-mode throughput")
    ap.add_argument("--inference-batches", default="1,1024")
    ap.add_argument("--single-jets", type=int, default=200, help="jets per run at batch 1")
    ap.add_argument("--weaver-trim", choices=["on", "off", "both"], default="on")
    ap.add_argument("--weaver-python", default=str(DEFAULT_WEAVER_PYTHON))
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        ap.error(f"unknown model(s) {unknown}; valid: {', '.join(MODELS)}")
    args.inference_batches = [int(b) for b in str(args.inference_batches).split(",") if b]
    if args.side and not (args.model and args.data):
        ap.error("--side needs --model and --data")
    if args.side == "weaver" and not args.config:
        ap.error("--side weaver needs --config (colliderlab's config as JSON)")
    if args.side == "weaver" and args.weaver_trim == "both":
        ap.error("--side weaver takes --weaver-trim on or off")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.side:
        serve(args)
        return {}
    summary = drive(args)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary, args)
    return summary


if __name__ == "__main__":
    main()
