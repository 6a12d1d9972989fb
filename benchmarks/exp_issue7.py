"""Issue 7 measurements: InfoSCC-GAN and LSC-GAN trained through the project's loop, scored by the
evaluation suite plus attribute control accuracy and a feature-space Chamfer distance.

    python benchmarks/exp_issue7.py --dataset mnist5k-2-7to3 --method infoscc --steps 1500 \
        --config '{"width": 0.25}' --out exp_runs/issue7

Needs the pretrain and cluster outputs of the dataset (models/encoders/<ds>, models/clusters/<ds>).
One thread, tracking off. Prints and writes one JSON record (``<out>/<name>.json``).

Attribute control accuracy is reported two ways:

* ``attribute_accuracy`` — the suite's protocol: an *evaluation-only* classifier trained on the
  true labels of the training split (logistic regression on pixels for images, 15-NN for
  points/vectors; never seen by the GAN), component -> class by ICFID's matching;
* ``attribute_accuracy_own`` — InfoSCC-GAN's definition (§4): the share of samples of component ``c``
  that the method's frozen stage-2 classifier on encoder features puts in attribute ``c``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def eval_classifier(train: Any, test: Any) -> tuple[Any, float]:
    """Evaluation-only classifier on true labels; returns (callable for the suite, test accuracy)."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    xtr = train.x.reshape(len(train.x), -1)
    clf = LogisticRegression(max_iter=2000, C=0.1) if train.modality == "image" else KNeighborsClassifier(15)
    clf.fit(xtr, train.y)
    acc = float((clf.predict(test.x.reshape(len(test.x), -1)) == test.y).mean())

    def predict(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(clf.predict(x.detach().cpu().numpy().reshape(len(x), -1)))

    return predict, acc


def own_attribute_accuracy(m: Any, n: int, seed: int) -> list[float]:
    import torch

    g = torch.Generator(device=m.device).manual_seed(seed)
    out = []
    with torch.no_grad():
        for c in range(m.num_components):
            pred = m.C(m.E(m.sample(n, c, g))).argmax(1)
            out.append(float((pred == c).float().mean()))
    return out


def chamfer(m: Any, x_real: np.ndarray, n: int, seed: int) -> float:
    import torch

    from ucgan.metrics.attribute import chamfer_distance

    rng = np.random.default_rng(seed)
    xr = x_real[rng.choice(len(x_real), min(n, len(x_real)), replace=False)]
    g = torch.Generator(device=m.device).manual_seed(seed)
    with torch.no_grad():
        fr = m.E(torch.as_tensor(xr, device=m.device)).cpu().numpy()
        ff = m.E(m.sample(len(xr), None, g)).cpu().numpy()
    return chamfer_distance(fr, ff)


def run(a: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from ucgan import params as P
    from ucgan.config import from_mapping, to_dict
    from ucgan.data.dataset import load_split
    from ucgan.env import seed_everything
    from ucgan.methods import DataInfo, get_method
    from ucgan.metrics.cache import StatsCache
    from ucgan.metrics.suite import evaluate_method
    from ucgan.stages import build_method, pipeline_resources
    from ucgan.stages_params import eval_profile
    from ucgan.training import LoopConfig, train

    cfg_in = json.loads(a.config)
    name = a.name or f"{a.method}-{a.dataset}-{a.steps}"
    out = Path(a.out) / name
    tr, te = load_split(a.dataset, "train", "data/prepared"), load_split(a.dataset, "test", "data/prepared")
    info = DataInfo.from_manifest({**tr.manifest, "dataset": a.dataset})
    cls = get_method(a.method)
    cfg = from_mapping(cls.Config, cfg_in, name)
    dev = torch.device("cpu")
    seed_everything(a.seed)
    res = {**pipeline_resources(a.dataset), "train_x": tr.x, "train_y": tr.y}
    if a.encoder_dir:  # artifacts of another pretrain/cluster configuration
        res["encoder_path"] = Path(a.encoder_dir) / "encoder.pt"
    if a.clusters_dir:
        res.update(clusters_path=Path(a.clusters_dir) / "clusters.npz", classifier_path=Path(a.clusters_dir) / "classifier.pt")
    m = build_method(a.method, cfg, info, dev, res)
    t0 = time.time()
    if a.eval_only:  # re-score a model trained earlier by this script (same name/out)
        from ucgan.io import torch_load

        ck = torch_load(out / "model.pt")
        m.load_state_dict(ck["method_state"])
        final_losses: dict[str, float] = {}
        train_s = float("nan")
    else:
        loop = LoopConfig(steps=a.steps, log_every=max(1, a.steps // 20), ckpt_every=10**9, progress=False,
                          grid_per_component=8)
        tres = train(m, tr.x, loop, a.seed, out, out / "ckpt.pt")
        final_losses, train_s = tres.final_losses, time.time() - t0
    profile = eval_profile(P.load("params.yaml").raw, a.dataset)
    if a.eval:
        profile = from_mapping(type(profile), {**to_dict(profile), **json.loads(a.eval)}, "eval")
    encoder = None
    if profile.extractor == "encoder":  # as the evaluate stage does
        from ucgan.encoders import load_encoder

        encoder = load_encoder(res["encoder_path"], dev)
    predict, clf_acc = eval_classifier(tr, te)
    t0 = time.time()
    seed_everything(a.seed)
    m.eval()
    ev = evaluate_method(m, tr, te, profile, StatsCache(None), dev, encoder=encoder, classifier=predict,
                         dataset=a.dataset)
    rec = {
        "name": name, "dataset": a.dataset, "method": a.method, "seed": a.seed, "steps": a.steps,
        "config": to_dict(cfg), "supervised": bool(getattr(m, "supervised", False)),
        "train_seconds": round(train_s, 1), "seconds_per_step": round(train_s / a.steps, 3),
        "eval_seconds": round(time.time() - t0, 1), "eval_classifier_test_acc": clf_acc,
        "final_losses": final_losses,
        **{k: ev.get(k) for k in ("fid", "icfid", "icfid_per_class", "assignment", "nmi", "nmi_source",
                                  "mixing_true", "mixing_learned", "mixing_l1", "attribute_accuracy",
                                  "attribute_accuracy_per_component", "extractor", "real_split",
                                  "modes_covered", "high_quality", "reverse_kl")},
        "attribute_accuracy_own_per_component": own_attribute_accuracy(m, 1000, a.seed + 2),
        "chamfer_encoder": chamfer(m, tr.x, 2000, a.seed + 3),
    }
    own = rec["attribute_accuracy_own_per_component"]
    rec["attribute_accuracy_own"] = float(np.mean(own))
    out.mkdir(parents=True, exist_ok=True)
    tag = f"-{profile.extractor}" if a.eval_only else ""
    (out / f"result{tag}.json").write_text(json.dumps(rec, indent=1, default=str))
    (out / f"metrics_full{tag}.json").write_text(json.dumps(ev, indent=1, default=str))
    return rec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--method", required=True, choices=["infoscc", "lscgan"])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default="{}", help="method config overrides (JSON)")
    ap.add_argument("--eval", default="", help="EvalProfile overrides (JSON)")
    ap.add_argument("--name", default="")
    ap.add_argument("--encoder-dir", default="", help="pretrain outputs (default models/encoders/<dataset>)")
    ap.add_argument("--clusters-dir", default="", help="cluster outputs (default models/clusters/<dataset>)")
    ap.add_argument("--eval-only", action="store_true", help="score <out>/<name>/model.pt instead of training")
    ap.add_argument("--out", default="exp_runs/issue7")
    rec = run(ap.parse_args())
    keys = ("name", "extractor", "seconds_per_step", "fid", "icfid", "nmi", "mixing_l1", "attribute_accuracy",
            "attribute_accuracy_own", "chamfer_encoder", "eval_classifier_test_acc", "modes_covered")
    print(json.dumps({k: rec.get(k) for k in keys}), flush=True)


if __name__ == "__main__":
    main()
