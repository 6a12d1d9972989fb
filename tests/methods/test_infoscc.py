"""InfoSCC-GAN on tiny nets: EigenGAN subspaces, the patch critic, the classification-regularisation
step, both modalities and labels mode (the state round trip is the shared contract test's).

The frozen encoder/classifier are real pipeline outputs on tiny prepared data: ``pretrain`` with
0 epochs (random SmallCNN / MLP, no training) and ``cluster`` (k-means + linear classifier).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan.errors import ConfigError, DataError
from ucgan.methods import DataInfo, get_method
from ucgan.nets.eigengan import EigenGenerator, SubspaceLayer, orthogonality_penalty, patch_discriminator

torch.set_num_threads(1)
CPU = torch.device("cpu")


def make_artifacts(root: Path, modality: str, counts=(24, 12)) -> tuple[DataInfo, dict, np.ndarray, np.ndarray]:
    """Prepared tiny dataset + pretrain (0 epochs) + cluster outputs; returns (info, resources, x, y)."""
    from ucgan.clustering.config import ClusterConfig
    from ucgan.clustering.stage import cluster
    from ucgan.config import from_mapping
    from ucgan.encoders.config import PretrainConfig
    from ucgan.encoders.simclr import pretrain
    from ucgan.io import save_npz, write_json
    from ucgan.tracking import TrackingConfig

    rng = np.random.default_rng(0)
    y = np.concatenate([np.full(n, i) for i, n in enumerate(counts)]).astype(np.int64)
    if modality == "image":
        shape, vr = [1, 28, 28], [0.0, 1.0]
        x = rng.random((len(y), 1, 28, 28)) * 0.3
        x[y == 1, :, 8:20, 8:20] += 0.7  # class 1: a bright square
    else:
        shape, vr = [2], [-1.0, 1.0]
        x = np.where(y[:, None] == 0, -0.5, 0.5) + rng.normal(0, 0.05, (len(y), 2))
    x = np.clip(x, *vr).astype(np.float32)
    data = root / "prep" / "tiny"
    data.mkdir(parents=True)
    for split in ("train", "test"):
        save_npz(data / f"{split}.npz", x=x, y=y)
    write_json(data / "manifest.json", {"dataset": "tiny", "modality": modality, "shape": shape, "range": vr,
                                        "class_names": ["a", "b"]})
    off = TrackingConfig(enabled=False)
    pretrain("tiny", PretrainConfig(epochs=0, width=4 if modality == "image" else 8, probe=False),
             root / "prep", root / "enc", "cpu", off, progress=False)
    ccfg = from_mapping(ClusterConfig, {"n_init": 2, "classifier": {"epochs": 30},
                                        "evaluation": {"nmi_seeds": 1, "variants": False, "plot": "none"},
                                        "representation": "backbone"}, "cluster")
    cluster("tiny", ccfg, root / "enc", root / "cl", off)
    res = {"encoder_path": root / "enc" / "encoder.pt", "clusters_path": root / "cl" / "clusters.npz",
           "classifier_path": root / "cl" / "classifier.pt"}
    info = DataInfo(modality, tuple(shape), tuple(vr), 2, "tiny")
    return info, res, x, y


@pytest.fixture(scope="module")
def image_art(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("img"), "image")


@pytest.fixture(scope="module")
def points_art(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("pts"), "points")


TINY = dict(width=0.125, latent_dim=8, batch_size=8, g_channels=8, n_basis=3)


def _method(art, train=True, **kw):
    info, res, x, y = art
    cls = get_method("infoscc")
    torch.manual_seed(0)
    m = cls(cls.Config(**{**TINY, **kw}), info, CPU)
    m.attach({**res, "train_x": x} if train else res)
    return m


# ---------------------------------------------------------------------------- EigenGAN pieces
def test_orthogonality_regulariser_restores_orthonormal_bases() -> None:
    torch.manual_seed(0)
    layer = SubspaceLayer(dim=48, n_basis=6)
    eye = torch.eye(6)
    assert torch.linalg.norm(layer.U @ layer.U.T - eye) < 1e-5  # orthogonal init
    torch.testing.assert_close(layer.L.detach(), torch.tensor([18.0, 15, 12, 9, 6, 3]))
    with torch.no_grad():
        layer.U.add_(0.3 * torch.randn_like(layer.U))
    before = float(torch.linalg.norm(layer.U.detach() @ layer.U.detach().T - eye))
    opt = torch.optim.SGD([layer.U], lr=1e-2)  # the regulariser alone, plain gradient descent
    for _ in range(300):
        loss = 100.0 * orthogonality_penalty([layer])
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = float(torch.linalg.norm(layer.U.detach() @ layer.U.detach().T - eye))
    assert before > 5 and after < 1e-4


def test_eigengan_generator_and_patch_critic_shapes() -> None:
    torch.manual_seed(0)
    g = EigenGenerator(3, 8, (1, 28, 28), width=0.125, n_basis=4, base=8, value_range=(0.0, 1.0))
    assert [b.side for b in g.blocks] == [7, 14] and g.z_dim == 8  # 7 -> 14 -> 28
    with torch.no_grad():
        x = g(torch.eye(3)[[0, 1, 2, 0]], torch.randn(4, 8), torch.randn(4, g.z_dim))
    assert x.shape == (4, 1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1
    d = patch_discriminator((1, 28, 28), width=0.125, n_layers=2)
    assert d(x).shape == (4, 1, 5, 5) and d.patch_side == 5
    with pytest.raises(ConfigError, match="patch_layers"):
        patch_discriminator((1, 28, 28), n_layers=5)


# ---------------------------------------------------------------------------- training
def test_image_train_step_separate_classification_update(image_art, monkeypatch) -> None:
    m = _method(image_art, cls_reg_every=2, r1_every=2, diffaug="translation,cutout", diffaug_prob=1.0)
    enc_before = {k: v.clone() for k, v in m.E.state_dict().items()}
    cla_before = {k: v.clone() for k, v in m.C.state_dict().items()}
    g_steps = []
    orig = m.opt_g.step
    monkeypatch.setattr(m.opt_g, "step", lambda *a, **k: (g_steps.append(1), orig(*a, **k))[1])
    real = torch.as_tensor(image_art[2][:8])
    out0 = m.train_step(real, 0, 10)
    assert len(g_steps) == 2  # step 0: classification step + adversarial step, separately
    assert {"cls", "cls_acc", "r1", "orth", "d_loss", "g_adv"} <= set(out0)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out0.values())
    out1 = m.train_step(real, 1, 10)
    assert len(g_steps) == 3 and "cls" not in out1 and "r1" not in out1
    for k, v in m.E.state_dict().items():  # stage 1 and 2 stay frozen
        torch.testing.assert_close(v, enc_before[k])
    for k, v in m.C.state_dict().items():
        torch.testing.assert_close(v, cla_before[k])
    x = m.sample(5, component=1)
    assert x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(m.mixing(), [24 / 36, 12 / 36], atol=1e-6)
    assert m.assign(real).shape == (8,) and not m.supervised


def test_points_use_the_mlp_generator_and_global_critic(points_art) -> None:
    m = _method(points_art, loss="hinge")
    assert (m.generator_kind, m.discriminator_kind) == ("mlp", "global")
    out = m.train_step(torch.as_tensor(points_art[2][:8]), 0, 10)
    assert "orth" not in out and torch.isfinite(out["d_loss"])
    assert m.sample(7, component=0).shape == (7, 2)
    with pytest.raises(ConfigError, match="need images"):
        get_method("infoscc")(get_method("infoscc").Config(**TINY, generator="eigengan"), points_art[0], CPU)


def test_labels_mode_is_supervised_and_needs_labels(image_art) -> None:
    info, res, x, y = image_art
    cls = get_method("infoscc")
    m = cls(cls.Config(**TINY, attributes="labels", label_classifier_epochs=5), info, CPU)
    m.attach({**res, "train_x": x, "train_y": y})
    assert m.supervised and m.extra_state()["supervised"]
    np.testing.assert_allclose(m.mixing(), [24 / 36, 12 / 36])
    m.train_step(torch.as_tensor(x[:8]), 0, 4)
    bare = cls(cls.Config(**TINY, attributes="labels"), info, CPU)
    bare.attach({**res, "train_x": x})  # no train_y: nothing to train stage 2 on
    with pytest.raises(ConfigError, match="train_y"):
        bare.train_step(torch.as_tensor(x[:8]), 0, 4)


def test_user_errors_name_the_fix(image_art, tmp_path) -> None:
    info, res, x, _ = image_art
    cls = get_method("infoscc")
    with pytest.raises(DataError, match="ucgan pretrain"):
        cls(cls.Config(**TINY), info, CPU).attach({**res, "encoder_path": tmp_path / "nope.pt"})
    with pytest.raises(ConfigError, match="num_components"):
        cls(cls.Config(**TINY, num_components=3), info, CPU).attach(res)
    with pytest.raises(ConfigError, match="attach"):
        cls(cls.Config(**TINY), info, CPU).train_step(torch.as_tensor(x[:8]), 0, 1)
