"""``ucgan cluster`` — click command around :func:`ucgan.clustering.stage.cluster`."""
from __future__ import annotations

import json

import click

from .. import layout
from ..config import DEFAULT_PARAMS, from_mapping, load_params
from ..preflight import preflight
from ..tracking import TrackingConfig


@click.command("cluster")
@click.option("--dataset", required=True, help="dataset whose encoder embeddings are clustered")
@click.option("--params", "params_path", default=DEFAULT_PARAMS, show_default=True,
              help="params.yaml; reads `cluster` (+ `cluster.overrides.<dataset>`) and `tracking`")
@click.option("--encoder-dir", default=None, help="pretrain outputs [default: models/encoders/<dataset>]")
@click.option("--out", "out_dir", default=None, help="output folder [default: models/clusters/<dataset>]")
def cluster_command(dataset: str, params_path: str, encoder_dir: str | None, out_dir: str | None) -> None:
    """k-means pseudo-labels + linear classifier on the encoder features of DATASET (InfoSCC-GAN stage 2)."""
    from .config import load_cluster_config
    from .stage import cluster

    params = load_params(params_path)
    cfg = load_cluster_config(params, dataset)
    tracking = from_mapping(TrackingConfig, params.get("tracking"), "tracking")
    out = out_dir or str(layout.clusters_dir(dataset))
    preflight([out], need_bytes=64 * 2**20, tracking=tracking, what=f"the clusters {out}")
    metrics = cluster(dataset, cfg, encoder_dir or layout.encoder_dir(dataset), out, tracking)
    click.echo(json.dumps(metrics, indent=2, default=str))
