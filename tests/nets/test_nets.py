"""Shapes, ranges, features and gradient flow of the appendix-E networks (ucgan.nets)."""
from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn

from ucgan.errors import ConfigError
from ucgan.methods.base import DataInfo
from ucgan.nets import Discriminator, build_discriminator, build_encoder, build_generator, output_activation

# (info, feature_dim at width 1) — one per appendix-E table.
CASES = {
    "points-T11": (DataInfo("points", (2,), (-1.0, 1.0), 8), 128),
    "vector-T13": (DataInfo("vector", (20,), (0.0, 1.0), 8), 256),
    "mnist-T12": (DataInfo("image", (1, 28, 28), (0.0, 1.0), 10), 1024),
    "rgb28-T12": (DataInfo("image", (3, 28, 28), (-1.0, 1.0), 10), 1024),
    "cifar-T14": (DataInfo("image", (3, 32, 32), (-1.0, 1.0), 10), 128),
    "celeba-T15": (DataInfo("image", (3, 64, 64), (-1.0, 1.0), 2), 128),
}
LATENT = 16


@pytest.fixture(autouse=True)
def _single_thread():
    """These tests run many tiny ops: intra-op threads only add wake-up latency (10-100x on a busy
    2-core machine), so run them on one thread and restore the session's setting afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _in_range(x: torch.Tensor, value_range) -> bool:
    if value_range is None:
        return bool(torch.isfinite(x).all())
    lo, hi = value_range
    return bool(((x >= lo) & (x <= hi)).all())


@pytest.mark.parametrize("width", [1.0, 0.25])
@pytest.mark.parametrize("case", list(CASES))
def test_shapes_ranges_features(case: str, width: float) -> None:
    torch.manual_seed(0)
    info, feat1 = CASES[case]
    g = build_generator(info, LATENT + 3, width=width)  # + a 3-d condition concatenated by a method
    d = build_discriminator(info, n_out=1, width=width)
    dk = build_discriminator(info, n_out=5, width=width, spectral_norm=True)
    e = build_encoder(info, out_dim=LATENT, width=width)
    z = torch.randn(3, LATENT + 3)
    x = g(z)
    assert x.shape == (3, *info.shape)
    assert _in_range(x, info.value_range)
    assert isinstance(d, Discriminator) and isinstance(e, Discriminator)
    assert d(x).shape == (3, 1)
    assert dk(x).shape == (3, 5)
    assert e(x).shape == (3, LATENT)
    expected_feat = max(1, round(feat1 * width))
    for net in (d, dk, e):
        assert net.feature_dim == expected_feat
        assert net.features(x).shape == (3, expected_feat)
    # The head really is the last layer: forward == head(features).
    torch.testing.assert_close(d(x), d.head(d.features(x)))
    # Eval mode works with a single sample (BatchNorm running stats).
    g.eval()
    assert g(torch.randn(1, LATENT + 3)).shape == (1, *info.shape)


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_flow_to_every_parameter(case: str) -> None:
    torch.manual_seed(1)
    info, _ = CASES[case]
    g = build_generator(info, LATENT, width=0.25)
    d = build_discriminator(info, n_out=2, width=0.25, spectral_norm=True)
    e = build_encoder(info, out_dim=LATENT, width=0.25)
    z = torch.randn(4, LATENT, requires_grad=True)
    x = g(z)
    loss = d(x).sum() + e(x).pow(2).sum()
    loss.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    for net in (g, d, e):
        for name, p in net.named_parameters():
            assert p.grad is not None, name
            assert torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


def test_encoder_spectral_norm_only_for_mlps() -> None:
    def has_sn(m: nn.Module) -> bool:
        return any(hasattr(mod, "parametrizations") for mod in m.modules())

    assert has_sn(build_encoder(CASES["points-T11"][0], 8, width=0.25))
    assert has_sn(build_encoder(CASES["vector-T13"][0], 8, width=0.25))
    assert not has_sn(build_encoder(CASES["mnist-T12"][0], 8, width=0.25))
    assert not has_sn(build_encoder(CASES["cifar-T14"][0], 8, width=0.25))
    assert not has_sn(build_discriminator(CASES["points-T11"][0], width=0.25))
    assert has_sn(build_discriminator(CASES["points-T11"][0], width=0.25, spectral_norm=True))


def test_spectral_norm_bounds_lipschitz_of_encoder_layers() -> None:
    torch.manual_seed(2)
    e = build_encoder(CASES["points-T11"][0], 8)
    e.train()
    for _ in range(30):  # let the power iteration converge
        e(torch.randn(16, 2))
    e.eval()
    for m in e.modules():
        if isinstance(m, nn.Linear):
            assert torch.linalg.matrix_norm(m.weight, ord=2) <= 1.0 + 1e-3


def test_deepcopy_and_checkpoint_roundtrip() -> None:
    """EMA copies (deepcopy) and weights_only checkpoints must work, spectral norm included."""
    info = CASES["points-T11"][0]
    for net in (build_generator(info, LATENT, width=0.25), build_encoder(info, LATENT, width=0.25)):
        net.eval()
        twin = copy.deepcopy(net)
        inp = torch.randn(4, LATENT) if not isinstance(net, Discriminator) else torch.randn(4, 2)
        torch.testing.assert_close(net(inp), twin(inp))
        buf = io.BytesIO()
        torch.save(net.state_dict(), buf)
        buf.seek(0)
        state = torch.load(buf, weights_only=True)
        fresh = build_generator(info, LATENT, width=0.25) if not isinstance(net, Discriminator) else \
            build_encoder(info, LATENT, width=0.25)
        fresh.load_state_dict(state)
        fresh.eval()
        torch.testing.assert_close(net(inp), fresh(inp))


def test_dcgan_table12_layout() -> None:
    d = build_discriminator(CASES["mnist-T12"][0])
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (4, 4), (2, 2)), (64, (4, 4), (2, 2)), (1024, (7, 7), (1, 1))
    ]
    g = build_generator(CASES["mnist-T12"][0], 64)
    deconvs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in deconvs] == [
        (1024, (1, 1), (1, 1)), (128, (7, 7), (1, 1)), (64, (4, 4), (2, 2)), (1, (4, 4), (2, 2))
    ]


def test_resnet_linear_sizes_match_tables() -> None:
    g32 = build_generator(CASES["cifar-T14"][0], 128)
    g64 = build_generator(CASES["celeba-T15"][0], 128)
    assert g32.fc.out_features == 2048 and g64.fc.out_features == 8192


@pytest.mark.parametrize(
    "value_range, probe",
    [(None, nn.Identity), ((0.0, 1.0), nn.Sigmoid), ((-1.0, 1.0), nn.Tanh)],
)
def test_output_activation_choice(value_range, probe) -> None:
    assert isinstance(output_activation(value_range), probe)


def test_scaled_tanh_range_and_unbounded_generator() -> None:
    act = output_activation((-3.0, 5.0))
    y = act(torch.tensor([-1e4, 0.0, 1e4]))
    torch.testing.assert_close(y, torch.tensor([-3.0, 1.0, 5.0]))
    info = DataInfo("points", (2,), (-3.0, 5.0), 4)
    x = build_generator(info, 4, width=0.25)(100 * torch.randn(64, 4))
    assert _in_range(x, (-3.0, 5.0))
    free = build_generator(DataInfo("points", (2,), None, 4), 4, width=0.25)
    assert isinstance(free.net[-1], nn.Identity)


@pytest.mark.parametrize(
    "info",
    [
        DataInfo("image", (3, 48, 48), (-1.0, 1.0), 2),
        DataInfo("image", (1, 28, 32), (0.0, 1.0), 2),
        DataInfo("image", (784,), (0.0, 1.0), 2),
        DataInfo("points", (2, 2), None, 2),
        DataInfo("audio", (100,), None, 2),
    ],
)
def test_unsupported_shape_is_config_error(info: DataInfo) -> None:
    for build in (
        lambda: build_generator(info, 8),
        lambda: build_discriminator(info),
        lambda: build_encoder(info, 8),
    ):
        with pytest.raises(ConfigError) as err:
            build()
        msg = str(err.value)
        assert str(tuple(info.shape)) in msg and "32, 32" in msg


def test_bad_sizes_are_config_errors() -> None:
    info = CASES["points-T11"][0]
    with pytest.raises(ConfigError):
        build_generator(info, 0)
    with pytest.raises(ConfigError):
        build_discriminator(info, n_out=0)
    with pytest.raises(ConfigError):
        build_generator(info, 4, width=0.0)


def test_init_is_glorot_with_zero_bias() -> None:
    d = build_discriminator(CASES["vector-T13"][0])
    lin = d.body[1]
    assert isinstance(lin, nn.Linear)
    assert torch.count_nonzero(lin.bias) == 0
    bound = (6.0 / (lin.in_features + lin.out_features)) ** 0.5
    assert lin.weight.abs().max() <= bound
    assert lin.weight.abs().max() > 0.9 * bound


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", list(CASES))
def test_cuda_forward_backward(case: str) -> None:
    info, _ = CASES[case]
    dev = torch.device("cuda")
    g = build_generator(info, LATENT, width=0.25).to(dev)
    d = build_discriminator(info, n_out=2, width=0.25, spectral_norm=True).to(dev)
    e = build_encoder(info, out_dim=LATENT, width=0.25).to(dev)
    x = g(torch.randn(4, LATENT, device=dev))
    assert x.shape == (4, *info.shape) and _in_range(x, info.value_range)
    (d(x).sum() + e(x).sum()).backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in g.parameters())
    assert d.features(x).shape == (4, d.feature_dim)
