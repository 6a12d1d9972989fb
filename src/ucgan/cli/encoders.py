"""``ucgan pretrain`` and ``ucgan cluster``: InfoSCC-GAN's stages 1 and 2, per dataset.

Why together: both build the per-dataset artifacts that methods with ``needs_encoder`` consume (the
SimCLR encoder, then k-means attributes on its features), and both take their output folders from
:mod:`ucgan.layout`. Click wiring only: the work is :func:`ucgan.encoders.simclr.pretrain` and
:func:`ucgan.clustering.stage.cluster`.
"""
from __future__ import annotations

import json

import click

from .. import layout
from ..preflight import preflight
from .options import PARAMS_OPTION


@click.command("pretrain")
@click.option("--dataset", required=True, help="prepared dataset name (data/prepared/<dataset>)")
@PARAMS_OPTION
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N [default: params.yaml's device]")
@click.option("--prepared-root", default=None, help="prepared datasets [default: params.yaml's data.root]")
@click.option("--role", type=click.Choice(["method", "eval"]), default="method", show_default=True,
              help="method: the encoder InfoSCC-GAN/LSC-GAN consume (models/encoders/<dataset>); eval: the "
                   "independent evaluation encoder, same recipe with pretrain.eval_seed, never given to a method "
                   "(models/eval-encoders/<dataset>)")
@click.option("--out", "out_dir", default=None, help="output folder [default: by --role]")
@click.option("--backbone", default=None,
              type=click.Choice(["auto", "small_cnn", "resnet18", "mlp", "alexnet_random"]),
              help="override pretrain.backbone, e.g. a second, untrained alexnet_random encoder for LSC-GAN "
                   "next to the SimCLR one (use another --out)")
@click.option("--ckpt", "ckpt_path", default=None,
              help="resume checkpoint [default: checkpoints/encoders/<dataset>.pt, outside the DVC output]")
def pretrain_command(dataset: str, params_path: str, device: str | None, prepared_root: str | None, role: str,
                     out_dir: str | None,
                     backbone: str | None, ckpt_path: str | None) -> None:
    """SimCLR-pretrain the encoder of DATASET (InfoSCC-GAN stage 1; resumes an interrupted run).

    ``--role eval`` trains the evaluation encoder: a second network from its own seed that no method
    sees, so the generators that train through the first one are not scored by it."""
    import dataclasses

    from .. import params as P
    from ..encoders.simclr import pretrain
    from ..env import resolve_device

    prm = P.load(params_path)  # the whole file is checked first, as every stage does
    cfg = prm.pretrain(dataset)
    if backbone:
        cfg = dataclasses.replace(cfg, backbone=backbone)
    if role == "eval":
        cfg = dataclasses.replace(cfg, seed=cfg.eval_seed)
    tracking = prm.tracking
    out = out_dir or str(layout.encoder_dir(dataset, "eval" if role == "eval" else "method"))
    ckpt = ckpt_path or str(layout.encoder_checkpoint(dataset, "eval" if role == "eval" else "method"))
    preflight([out, ckpt], need_bytes=256 * 2**20, tracking=tracking, what=f"the encoder {out}")
    metrics = pretrain(dataset, cfg, prepared_root or prm.data.root, out, resolve_device(device or prm.device), tracking,
                       ckpt_path=ckpt)
    click.echo(json.dumps(metrics, indent=2, default=str))


@click.command("cluster")
@click.option("--dataset", required=True, help="dataset whose encoder embeddings are clustered")
@PARAMS_OPTION
@click.option("--encoder-dir", default=None, help="pretrain outputs [default: models/encoders/<dataset>]")
@click.option("--out", "out_dir", default=None, help="output folder [default: models/clusters/<dataset>]")
def cluster_command(dataset: str, params_path: str, encoder_dir: str | None, out_dir: str | None) -> None:
    """k-means pseudo-labels + linear classifier on the encoder features of DATASET (InfoSCC-GAN stage 2)."""
    from .. import params as P
    from ..clustering.stage import cluster

    prm = P.load(params_path)  # the whole file is checked first, as every stage does
    cfg = prm.cluster(dataset)
    tracking = prm.tracking
    out = out_dir or str(layout.clusters_dir(dataset))
    preflight([out], need_bytes=64 * 2**20, tracking=tracking, what=f"the clusters {out}")
    metrics = cluster(dataset, cfg, encoder_dir or layout.encoder_dir(dataset), out, tracking)
    click.echo(json.dumps(metrics, indent=2, default=str))


COMMANDS: tuple[click.Command, ...] = (pretrain_command, cluster_command)
