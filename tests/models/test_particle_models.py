"""Particle-cloud models and their layers: kNN, pair features, parameter counts, set invariances.

The generic registry-driven checks (shapes, gradients, save/load, learning) live in
test_registry_models.py; here: the kNN graph against brute force, the pairwise Lorentz features,
the paper presets' parameter counts, exact permutation and padding invariance (also in training
mode where the model packs real particles), EFN's IRC safety and the input error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colliderlab.models.registry import count_params, create_model, model_spec  # noqa: E402
from colliderlab.nn.attention import MultiHeadAttention, key_padding_bias  # noqa: E402
from colliderlab.nn.knn import EdgeConvBlock, gather_neighbors, knn  # noqa: E402
from colliderlab.nn.layers import dropout, masked_max, masked_mean, masked_sum  # noqa: E402
from colliderlab.nn.pairs import (  # noqa: E402
    pair_features,
    pair_features_tril,
    tril_indices,
    tril_to_symmetric,
)

MODELS = ("pfn", "efn", "particlenet", "part", "interaction_net", "mpnn")
N_FEATURES = 7


def _jets(n_real=(9, 5, 1, 12), n_slots: int = 14, seed: int = 0) -> dict[str, torch.Tensor]:
    """A small ``particles`` batch of massless particles in a ~600 GeV jet, real slots first."""
    g = torch.Generator().manual_seed(seed)
    b = len(n_real)
    mask = torch.arange(n_slots)[None] < torch.tensor(n_real)[:, None]  # (B, N)
    coords = 0.3 * torch.randn(b, n_slots, 2, generator=g)  # (B, N, 2)
    pt = 600.0 * torch.rand(b, n_slots, generator=g) ** 3 + 1.0
    eta, phi = coords[..., 0] + 0.5, coords[..., 1] - 2.9  # near the -pi/pi seam
    p4 = torch.stack(
        [pt * torch.cosh(eta), pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)], -1
    )
    x = torch.randn(b, n_slots, N_FEATURES, generator=g)
    m = mask.unsqueeze(-1)
    return {"x": x * m, "coords": coords * m, "p4": p4 * m, "mask": mask}


def _pad(batch: dict[str, torch.Tensor], extra: int) -> dict[str, torch.Tensor]:
    """``extra`` more padded slots at the end."""
    out = {}
    for k, v in batch.items():
        pad = torch.zeros(v.shape[0], extra, *v.shape[2:], dtype=v.dtype)
        out[k] = torch.cat([v, pad], 1)
    return out


def _permute_real(batch: dict[str, torch.Tensor], seed: int = 1) -> dict[str, torch.Tensor]:
    """Shuffle the real particles of every jet among themselves (padding stays at the end)."""
    g = torch.Generator().manual_seed(seed)
    n = batch["mask"].shape[1]
    perm = []
    for row in batch["mask"]:
        r = int(row.sum())
        perm.append(torch.cat([torch.randperm(r, generator=g), torch.arange(r, n)]))
    perm = torch.stack(perm)  # (B, N)
    out = {}
    for k, v in batch.items():
        idx = perm.reshape(*perm.shape, *([1] * (v.dim() - 2))).expand_as(v)
        out[k] = torch.gather(v, 1, idx)
    return out


def _model(name: str, preset: str = "lite", **over):
    torch.manual_seed(0)
    return create_model(name, preset, n_features=N_FEATURES, **over)


def _run(model, batch):
    return model(*[batch[k] for k in model.input_names])


def _warm_bn(model, batch, steps: int = 3) -> None:
    """Give batch norms non-trivial running statistics, then switch to eval mode."""
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            _run(model, batch)
    model.eval()


# ---------------------------------------------------------------------------------------------
# kNN
# ---------------------------------------------------------------------------------------------
def test_knn_matches_brute_force_and_never_picks_padding():
    g = torch.Generator().manual_seed(3)
    n_real = (10, 6, 3, 1)
    b, n, k = len(n_real), 12, 4
    points = torch.randn(b, n, 3, generator=g)
    mask = torch.arange(n)[None] < torch.tensor(n_real)[:, None]
    points[~mask] = 0.0  # padded slots sit at the origin, among the real points
    idx, valid = knn(points, k, mask)
    assert idx.shape == valid.shape == (b, n, k)
    p = points.double().numpy()
    for jb, r in enumerate(n_real):
        for i in range(r):
            d = ((p[jb, :r] - p[jb, i]) ** 2).sum(-1)
            d[i] = np.inf
            expect = np.sort(d)[: min(k, r - 1)]
            got = idx[jb, i][valid[jb, i]].numpy()
            assert len(got) == min(k, r - 1)
            assert (got < r).all() and (got != i).all(), (
                "a padded slot or the point itself was chosen"
            )
            np.testing.assert_allclose(np.sort(d[got]), expect, rtol=1e-5)
    # gather: one flat index gather == per-jet indexing
    feats = torch.randn(b, n, 5, generator=g)
    nb = gather_neighbors(feats, idx)  # (B, N, k, 5)
    ref = torch.stack([feats[j][idx[j]] for j in range(b)])
    torch.testing.assert_close(nb, ref)


def test_edgeconv_split_linear_and_packed_path_agree_with_naive():
    torch.manual_seed(0)
    batch = _jets()
    x, mask, coords = batch["x"], batch["mask"], batch["coords"]
    blk = EdgeConvBlock(N_FEATURES, (8, 8), k=3)
    # the split first layer is W [x_i, x_j - x_i] with W = [W_self + W_nbr, W_nbr]
    w = torch.cat([blk.lin_self.weight + blk.lin_nbr.weight, blk.lin_nbr.weight], 1)  # (8, 2F)
    idx, _ = knn(coords, 3, mask)
    xj = gather_neighbors(x, idx)  # (B, N, k, F)
    xi = x.unsqueeze(2).expand_as(xj)
    naive = torch.cat([xi, xj - xi], -1) @ w.T  # (B, N, k, 8)
    split = gather_neighbors(blk.lin_nbr(x), idx) + blk.lin_self(x).unsqueeze(2)
    torch.testing.assert_close(split, naive, rtol=1e-5, atol=1e-5)
    # packed (training) and dense (eval) paths agree for the same batch-norm statistics
    with torch.no_grad():
        blk.train()
        for _ in range(2):
            blk(coords, x, mask)
        blk.eval()
        dense = blk(coords, x, mask)
        blk.training = True  # packed path, children (batch norms) still in eval mode
        packed = blk(coords, x, mask)
    torch.testing.assert_close(packed, dense, rtol=1e-5, atol=1e-6)
    assert (dense[~mask] == 0).all()


# ---------------------------------------------------------------------------------------------
# Pair features
# ---------------------------------------------------------------------------------------------
def test_pair_features_finite_symmetric_and_stable():
    batch = _jets(n_real=(9, 5, 1, 0))
    f = pair_features(batch["p4"], batch["mask"])  # (B, N, N, 4)
    assert torch.isfinite(f).all()
    torch.testing.assert_close(f, f.transpose(1, 2))
    pair = batch["mask"].unsqueeze(2) & batch["mask"].unsqueeze(1)
    assert (f[~pair] == 0).all()
    # the triangle version is the same numbers
    ft, pm = pair_features_tril(batch["p4"], batch["mask"])
    i, j = tril_indices(batch["mask"].shape[1])
    torch.testing.assert_close(ft, f[:, i, j])
    assert torch.equal(pm, pair[:, i, j])
    # ln m^2 of real pairs against float64 four-vector sums (across the phi = +-pi seam)
    p = batch["p4"].double()
    s = p.unsqueeze(2) + p.unsqueeze(1)
    m2 = s[..., 0] ** 2 - (s[..., 1:] ** 2).sum(-1)
    off = pair & ~torch.eye(pair.shape[1], dtype=torch.bool)
    ref = torch.log(m2.clamp(min=1e-8))[off].float()
    torch.testing.assert_close(f[..., 3][off], ref, rtol=0, atol=2e-3)
    # a nearly collinear 500 + 300 GeV pair keeps its tiny mass in float32
    eta = torch.tensor([[0.5, 0.5 + 1e-4]])
    pt = torch.tensor([[500.0, 300.0]])
    p4 = torch.stack([pt * torch.cosh(eta), pt * 0.8, pt * 0.6, pt * torch.sinh(eta)], -1)
    ln_m2 = pair_features(p4, torch.ones(1, 2, dtype=torch.bool))[0, 0, 1, 3]
    exact = math.log(2 * 500 * 300 * (math.cosh(1e-4) - 1))
    assert abs(ln_m2.item() - exact) < 1e-2
    # massive particles flying together: the pair mass is all in the mass terms
    m, pt, y = torch.tensor([[0.5, 1.0]]), torch.tensor([[20.0, 40.0]]), torch.tensor([[0.3, 0.3]])
    mt = torch.sqrt(m**2 + pt**2)
    p4 = torch.stack([mt * torch.cosh(y), pt * 0.6, pt * 0.8, mt * torch.sinh(y)], -1)
    s = p4[0].double().sum(0)
    ref = math.log(s[0] ** 2 - (s[1:] ** 2).sum())
    ln_m2 = pair_features(p4, torch.ones(1, 2, dtype=torch.bool))[0, 0, 1, 3]
    assert abs(ln_m2.item() - ref) < 1e-3


def test_tril_to_symmetric_gradient():
    n = 5
    vals = torch.randn(2, 3, n * (n + 1) // 2, dtype=torch.float64, requires_grad=True)
    dense = tril_to_symmetric(vals, n)
    torch.testing.assert_close(dense, dense.transpose(-1, -2))
    assert torch.autograd.gradcheck(lambda v: tril_to_symmetric(v, n), (vals,))


# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------
def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    b, n, c, h = 3, 7, 16, 4
    ours = MultiHeadAttention(c, h)
    ref = torch.nn.MultiheadAttention(c, h, batch_first=True)
    ref.in_proj_weight.data.copy_(ours.in_proj.weight)
    ref.in_proj_bias.data.copy_(ours.in_proj.bias)
    ref.out_proj.load_state_dict(ours.out_proj.state_dict())
    ours.eval(), ref.eval()
    x = torch.randn(b, n, c)
    mask = torch.arange(n)[None] < torch.tensor([7, 3, 1])[:, None]
    bias = torch.randn(b, h, n, n) + key_padding_bias(mask)  # (B, H, N, N)
    want = ref(x, x, x, attn_mask=bias.reshape(b * h, n, n), need_weights=False)[0]
    torch.testing.assert_close(ours(x, bias=bias), want, rtol=1e-5, atol=1e-5)
    # the class-attention path (separate query and keys), key padding only
    cls = torch.randn(b, 1, c)
    u = torch.cat([cls, x], 1)
    pad = key_padding_bias(torch.cat([mask.new_ones(b, 1), mask], 1))  # (B, 1, 1, 1 + N)
    want = ref(
        cls, u, u, key_padding_mask=~torch.cat([mask.new_ones(b, 1), mask], 1), need_weights=False
    )[0]
    torch.testing.assert_close(ours(cls, u, bias=pad), want, rtol=1e-5, atol=1e-5)


def test_masked_pooling_ignores_padding():
    x = torch.tensor(
        [[[1.0, -2.0], [3.0, -4.0], [99.0, 99.0]], [[5.0, 6.0], [99.0, 99.0], [99.0, 99.0]]]
    )
    mask = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(masked_sum(x, mask), torch.tensor([[4.0, -6.0], [0.0, 0.0]]))
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0, -3.0], [0.0, 0.0]]))
    torch.testing.assert_close(masked_max(x, mask), torch.tensor([[3.0, -2.0], [0.0, 0.0]]))


def test_dropout_statistics():
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = dropout(x, 0.25)
    assert abs((y == 0).float().mean().item() - 0.25) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.01
    assert torch.equal(dropout(x, 0.25, training=False), x)


# ---------------------------------------------------------------------------------------------
# Parameter counts of the paper presets (counting only)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, published",
    [("particlenet", 366_000), ("pfn", 82_000), ("efn", 82_000), ("part", 2_140_000)],
)
def test_paper_parameter_counts(name, published):
    spec = model_spec(name)
    assert spec.paper_params == published
    n = count_params(create_model(name, "paper", n_features=N_FEATURES, n_classes=2))
    assert abs(n / published - 1) < 0.10, (name, n, published)


def test_particlenet_lite_count():
    # ParticleNet-Lite: 26k in arXiv:1902.08570 Table 2
    assert abs(count_params(_model("particlenet")) / 26_000 - 1) < 0.05


# ---------------------------------------------------------------------------------------------
# Set invariances
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_permutation_invariance_of_real_particles(name):
    model = _model(name)
    assert model.permutation_invariant
    batch = _jets()
    _warm_bn(model, batch)
    with torch.no_grad():
        ref = _run(model, batch)
        out = _run(model, _permute_real(batch))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_padding_invariance(name):
    model = _model(name)
    batch = _jets()
    _warm_bn(model, batch)
    with torch.no_grad():
        ref = _run(model, batch)
        out = _run(model, _pad(batch, 9))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "name, over", [("particlenet", {"dropout": 0.0}), ("part", {"dropout": 0.0})]
)
def test_padding_invariance_in_training_mode(name, over):
    """Packed real particles/pairs: even batch-norm statistics ignore padded slots."""
    model = _model(name, **over)
    model.train()
    batch = _jets()
    ref = _run(model, batch)
    out = _run(model, _pad(batch, 9))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_part_packed_training_path_matches_dense():
    """Training packs the real particles for the position-wise layers; same numbers as dense."""
    model = _model("part")
    batch = _jets()
    _warm_bn(model, batch)
    seen = []
    model.embed.register_forward_hook(lambda mod, args, out: seen.append(tuple(args[0].shape)))
    with torch.no_grad():
        dense = _run(model, batch)
        model.training = True  # packed path at the top; blocks and pair embedding stay in eval
        packed = _run(model, batch)
    assert seen == [tuple(batch["x"].shape), (int(batch["mask"].sum()), N_FEATURES)]
    torch.testing.assert_close(packed, dense, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("adjacency, symmetric", [("distance", True), ("learned", True)])
def test_mpnn_variants_invariant(adjacency, symmetric):
    model = _model("mpnn", adjacency=adjacency, symmetric=symmetric, iterations=3)
    model.eval()
    batch = _jets()
    with torch.no_grad():
        ref = _run(model, batch)
        torch.testing.assert_close(
            _run(model, _pad(_permute_real(batch), 5)), ref, rtol=1e-5, atol=1e-5
        )


def test_interaction_net_has_no_self_interaction():
    """A lone particle receives no edge effect: the output is phi_C(f_O(x, 0))."""
    model = _model("interaction_net")
    model.eval()
    batch = _jets(n_real=(1,), n_slots=4)
    x = batch["x"][:, :1]  # (1, 1, F)
    with torch.no_grad():
        ref = model.fc(
            model.fo(torch.cat([x, torch.zeros(1, 1, model.config.edge_dim)], -1)).sum(1)
        )
        torch.testing.assert_close(_run(model, batch), ref)


def test_efn_is_infrared_and_collinear_safe():
    model = _model("efn")
    model.eval()
    batch = _jets(n_real=(6, 4), n_slots=8)
    with torch.no_grad():
        ref = _run(model, batch)
        # collinear split: particle 0 -> two halves in the same direction (slot 6 is free)
        split = {k: v.clone() for k, v in batch.items()}
        for k in ("p4", "coords"):
            split[k][0, 6] = batch[k][0, 0]
        split["p4"][0, 0] *= 0.5
        split["p4"][0, 6] *= 0.5
        split["mask"][0, 6] = True
        torch.testing.assert_close(_run(model, split), ref, rtol=1e-5, atol=1e-5)
        # infrared: a zero-energy real particle anywhere changes nothing
        soft = {k: v.clone() for k, v in batch.items()}
        soft["coords"][1, 4] = torch.tensor([0.3, -0.2])
        soft["mask"][1, 4] = True
        torch.testing.assert_close(_run(model, soft), ref, rtol=1e-5, atol=1e-5)
    # the PFN, fed the same particles as features, is not IRC safe by construction: sanity
    assert not torch.allclose(_model("pfn").eval()(batch["x"], batch["mask"]), ref)


def test_bad_inputs_name_the_array():
    batch = _jets()
    model = _model("particlenet")
    with pytest.raises(ValueError, match="'coords' must have shape"):
        model(batch["x"], batch["coords"][..., :1], batch["mask"])
    with pytest.raises(ValueError, match=r"'x' must have shape \(B, N, 7\)"):
        _model("part")(batch["x"][..., :5], batch["p4"], batch["mask"])
    with pytest.raises(ValueError, match="unknown adjacency 'knn'; valid: learned, distance"):
        _model("mpnn", adjacency="knn")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["particlenet", "part"])
def test_export_with_dynamic_batch_and_particles(name):
    """torch.export with symbolic B and N (the static-shape eval paths) reproduces eager outputs."""
    from torch.export import Dim, export

    model = _model(name)
    batch = _jets(n_slots=20)
    _warm_bn(model, batch)
    args = tuple(batch[k] for k in model.input_names)
    dims = {0: Dim("B", min=1, max=1024), 1: Dim("N", min=16, max=512)}
    program = export(model, args, dynamic_shapes=tuple(dims for _ in args))
    other = _pad(_jets(n_real=(3, 17, 30), n_slots=30), 10)
    args = tuple(other[k] for k in model.input_names)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(*args), model(*args), rtol=1e-5, atol=1e-5)
