"""The evaluation protocol on real (tiny, untrained) methods: InfoSCC-GAN and LSC-GAN cannot be scored
with the encoder they consumed, the independent eval encoder (`ucgan pretrain --role eval`) scores
them, and D's penultimate pre-activation is WGAN's NMI representation."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from test_infoscc import make_artifacts  # noqa: E402  (same folder; pytest puts it on sys.path)

from ucgan.data.dataset import Split
from ucgan.encoders import load_encoder
from ucgan.errors import UcganError
from ucgan.methods import DataInfo, get_method
from ucgan.metrics import EvalProfile, evaluate_method
from ucgan.metrics.extractors import module_fingerprint
from ucgan.metrics.protocol import eval_encoder_resources, penultimate_preactivation

torch.set_num_threads(1)
CPU = torch.device("cpu")
TINY = {"infoscc": dict(width=0.125, latent_dim=8, batch_size=8, g_channels=8, n_basis=3),
        "lscgan": dict(width=0.05, latent_dim=4, batch_size=8)}
PROF = dict(n_fake=64, min_real_per_class=4, attribute_n_per_component=16, kmeans_n_init=2)


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    root = tmp_path_factory.mktemp("proto")
    return root, make_artifacts(root, "points")


def _split(x, y) -> Split:
    return Split(x=x, y=y, manifest={"dataset": "tiny", "modality": "points", "shape": [2], "range": [-1.0, 1.0],
                                     "class_names": ["a", "b"], "content_hash": "tiny-proto"})


def _method(name: str, info: DataInfo, res: dict, x) -> object:
    cls = get_method(name)
    torch.manual_seed(0)
    m = cls(cls.Config(**TINY[name]), info, CPU)
    m.attach({**res, "train_x": x})
    return m


@pytest.mark.parametrize("name", ["infoscc", "lscgan"])
def test_scoring_with_the_consumed_encoder_is_refused(art, name: str) -> None:
    root, (info, res, x, y) = art
    m = _method(name, info, res, x)
    split = _split(x, y)
    consumed = load_encoder(res["encoder_path"], CPU)
    with pytest.raises(UcganError, match=f"refusing to score {name} with extractor 'encoder'.*Fix: .*eval-encoder"):
        evaluate_method(m, split, split, EvalProfile(extractor="encoder", **PROF), encoder=consumed)
    # the same weights passed off as an "eval encoder" are caught by their fingerprint
    with pytest.raises(UcganError, match="refusing"):
        evaluate_method(m, split, split, EvalProfile(extractor="eval-encoder", **PROF), encoder=consumed,
                        consumed_ids=(module_fingerprint(consumed),))
    # the stage helper refuses before it loads anything
    with pytest.raises(UcganError, match="refusing"):
        eval_encoder_resources(m, name, "tiny", "encoder", res, CPU)


def test_eval_encoder_stage_and_independent_scoring(art, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ucgan.cli.encoders import pretrain_command

    root, (info, res, x, y) = art
    params = {"tracking": {"enabled": False}, "pretrain": {"epochs": 0, "width": 8, "probe": False, "eval_seed": 7}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    m = _method("infoscc", info, res, x)
    with pytest.raises(UcganError, match="pretrain --role eval"):  # stage output missing: says how to make it
        eval_encoder_resources(m, "infoscc", "tiny", "eval-encoder", res, CPU)
    out = CliRunner().invoke(pretrain_command, ["--dataset", "tiny", "--params", "params.yaml", "--role", "eval",
                                                "--prepared-root", str(root / "prep"), "--device", "cpu"])
    assert out.exit_code == 0, out.output
    path = tmp_path / "models" / "eval-encoders" / "tiny" / "encoder.pt"
    assert path.is_file() and not (tmp_path / "models" / "encoders").exists()  # never the method encoder
    enc, consumed_ids = eval_encoder_resources(m, "infoscc", "tiny", "eval-encoder", res, CPU)
    assert consumed_ids == (module_fingerprint(load_encoder(res["encoder_path"], CPU)),)
    assert module_fingerprint(enc) not in consumed_ids  # another seed, another network
    split = _split(x, y)
    r = evaluate_method(m, split, split, EvalProfile(extractor="eval-encoder", **PROF), encoder=enc,
                        variant="infoscc", consumed_ids=consumed_ids)
    p = r["protocol"]
    assert p["extractor"].startswith("eval-encoder:") and p["extractor_independent"] is True
    assert p["variant"] == "infoscc" and p["icfid_n_per_class"] == 12 and p["components_excluded"] == 0
    assert r["attributes_from"] == "cluster-stage" and "consumed" in p["nmi_representation"]
    assert r["icfid"] is not None and 0.0 <= r["attribute_control_accuracy"] <= 1.0
    for key in ("nmi", "precision", "recall", "purity", "nmi_assignment", "attribute_accuracy_independent"):
        assert key in r


def test_wgan_representation_is_the_penultimate_preactivation() -> None:
    cls = get_method("wgan")
    info = DataInfo("points", (2,), (-1.0, 1.0), 2, "tiny")
    torch.manual_seed(0)
    m = cls(cls.Config(width=0.125, latent_dim=4, batch_size=8), info, CPU)
    x = torch.randn(16, 2)
    pre = m.representation(x)
    post = m.D.features(x)
    assert pre.shape == post.shape and (pre < 0).any()  # before the leaky ReLU: negatives survive
    torch.testing.assert_close(torch.nn.functional.leaky_relu(pre, 0.2), post)
    assert cls.representation_name == "D penultimate pre-activation"
    body_only = torch.nn.Sequential(torch.nn.Linear(2, 3))
    assert penultimate_preactivation(body_only, x).shape == (16, 3)  # no activation: the output itself
