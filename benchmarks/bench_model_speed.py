"""Training-step speed of the particle-cloud models on the CPU: jets/s for forward, backward, Adam.

One step is ``model(*inputs)``, cross-entropy, ``backward()`` and ``Adam.step()`` on a synthetic
``particles`` batch (``--batch`` jets of ``--particles`` slots, ``--features`` standardised
features, massless four-momenta of a ~600 GeV jet, the first ``--fill`` fraction of the slots real).
Each model is warmed up with 2 steps, then ``--repeats`` runs of ``--steps`` steps are timed; the
table gives the median run as jets/s and ms/step. Threads are fixed with ``torch.set_num_threads``.

On a shared machine, OpenMP's default busy-waiting makes every parallel region wait for a
descheduled sibling thread; ``OMP_WAIT_POLICY=PASSIVE`` (set before Python starts) avoids that.
The header records the policy and the load average.

    python benchmarks/bench_model_speed.py [--models particlenet,part] [--preset paper]
        [--batch 128] [--particles 100] [--features 7] [--fill 1.0] [--threads 2] [--steps 10]
        [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch


def synthetic_batch(
    batch: int, particles: int, features: int, fill: float, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A ``particles`` batch: x, mask, coords (Delta eta, Delta phi), p4 (E, px, py, pz)."""
    g = torch.Generator().manual_seed(seed)
    n_real = max(1, min(particles, round(fill * particles)))
    mask = torch.zeros(batch, particles, dtype=torch.bool)
    mask[:, :n_real] = True
    coords = 0.25 * torch.randn(batch, particles, 2, generator=g)  # (B, N, 2)
    pt = 600.0 * torch.distributions.Dirichlet(torch.ones(n_real)).sample((batch,))  # (B, n)
    pt = torch.cat([pt, torch.zeros(batch, particles - n_real)], 1)  # (B, N)
    eta = coords[..., 0] + 0.3
    phi = coords[..., 1] + 1.0
    p4 = torch.stack(
        [pt * torch.cosh(eta), pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)], -1
    )  # (B, N, 4)
    x = torch.randn(batch, particles, features, generator=g)  # (B, N, F)
    m = mask.unsqueeze(-1)
    return {"x": x * m, "mask": mask, "coords": coords * m, "p4": p4 * m}


def time_model(
    name: str,
    preset: str,
    data: dict[str, torch.Tensor],
    steps: int,
    repeats: int,
    n_classes: int = 2,
) -> dict[str, float]:
    """Median jets/s and ms/step of ``repeats`` runs of ``steps`` training steps."""
    from colliderlab.models.registry import count_params, create_model

    torch.manual_seed(0)
    n_features = data["x"].shape[-1]
    model = create_model(name, preset, n_features=n_features, n_classes=n_classes)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    inputs = [data[k] for k in model.input_names]
    batch = data["x"].shape[0]
    labels = torch.arange(batch) % n_classes

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(*inputs), labels)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        runs.append(time.perf_counter() - t0)
    med = statistics.median(runs)
    return {
        "model": name,
        "preset": preset,
        "params": count_params(model),
        "ms_per_step": 1e3 * med / steps,
        "jets_per_s": batch * steps / med,
        "runs_s": runs,
    }


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="particlenet,part", help="comma-separated model names")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--features", type=int, default=7)
    ap.add_argument(
        "--fill", type=float, default=1.0, help="fraction of slots holding a real particle"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    data = synthetic_batch(args.batch, args.particles, args.features, args.fill)
    rows = [
        time_model(name.strip(), args.preset, data, args.steps, args.repeats)
        for name in args.models.split(",")
        if name.strip()
    ]
    env = {
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "torch": torch.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps({"args": vars(args), "env": env, "results": rows}, indent=2))
    else:
        print(
            f"batch {args.batch}, {args.particles} particles ({args.fill:.0%} real), "
            f"{args.features} features, {args.threads} threads, median of {args.repeats} x "
            f"{args.steps} steps (forward + backward + Adam); OMP_WAIT_POLICY "
            f"{env['OMP_WAIT_POLICY']}, 1-min load average {env['load_average_1min']}\n"
        )
        print("| model | preset | params | ms/step | jets/s |")
        print("|---|---|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['model']} | {r['preset']} | {r['params']:,} | {r['ms_per_step']:.0f} | "
                f"{r['jets_per_s']:.0f} |"
            )
    return rows


if __name__ == "__main__":
    main()
