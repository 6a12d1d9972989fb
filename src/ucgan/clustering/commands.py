"""``ucgan cluster`` — click command around :func:`ucgan.clustering.stage.cluster`."""
from __future__ import annotations

import json

import click

from .. import layout
from ..options import PARAMS_OPTION
from ..preflight import preflight


@click.command("cluster")
@click.option("--dataset", required=True, help="dataset whose encoder embeddings are clustered")
@PARAMS_OPTION
@click.option("--encoder-dir", default=None, help="pretrain outputs [default: models/encoders/<dataset>]")
@click.option("--out", "out_dir", default=None, help="output folder [default: models/clusters/<dataset>]")
def cluster_command(dataset: str, params_path: str, encoder_dir: str | None, out_dir: str | None) -> None:
    """k-means pseudo-labels + linear classifier on the encoder features of DATASET (InfoSCC-GAN stage 2)."""
    from .. import params as P
    from .stage import cluster

    prm = P.load(params_path)  # the whole file is checked first, as every stage does
    cfg = prm.cluster(dataset)
    tracking = prm.tracking
    out = out_dir or str(layout.clusters_dir(dataset))
    preflight([out], need_bytes=64 * 2**20, tracking=tracking, what=f"the clusters {out}")
    metrics = cluster(dataset, cfg, encoder_dir or layout.encoder_dir(dataset), out, tracking)
    click.echo(json.dumps(metrics, indent=2, default=str))
