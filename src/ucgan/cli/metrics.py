"""``ucgan fid``: score any generator from folders of images (no ucgan model needed).

Click wiring only: the folders are read, embedded and scored by :func:`ucgan.metrics.folders.score_folders`
(imported inside the command: it needs torch); this module checks the arguments, prints the result
and writes ``--json``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .options import PARAMS_OPTION

if TYPE_CHECKING:  # annotations only: the CLI imports this module at start-up
    from ..metrics.fid import Matching
    from ..metrics.folders import FolderScore


@click.command("fid")
@click.argument("dirs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--ref", "ref", default=None, metavar="DATASET",
              help="Compare FAKE_DIR with the real statistics of a prepared dataset (evaluate's stats cache) "
                   "instead of a REAL_DIR: `ucgan fid FAKE_DIR --ref mnist5k`.")
@PARAMS_OPTION
@click.option("--per-class", is_flag=True,
              help="Each dir holds one subfolder per class (real) / per cluster (fake): report ICFID with the assignment.")
@click.option("--matching", type=click.Choice(["greedy", "hungarian"]), default="greedy", show_default=True,
              help="ICFID matching: greedy in class order (SLOGAN Algorithm 2) or minimum total FID.")
@click.option("--kid/--no-kid", "with_kid", default=True, show_default=True,
              help="Also report KID (unbiased, comparable across sample sizes); needs real features, so not with --ref.")
@click.option("--kid-subsets", default=100, show_default=True, type=click.IntRange(1))
@click.option("--kid-subset-size", default=1000, show_default=True, type=click.IntRange(2))
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch-size", default=50, show_default=True, type=click.IntRange(1))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result as JSON here.")
def fid_command(dirs: tuple[Path, ...], ref: str | None, params_path: str, per_class: bool, matching: Matching,
                with_kid: bool, kid_subsets: int, kid_subset_size: int, device: str, batch_size: int,
                json_path: Path | None) -> None:
    """FID (and KID) between REAL_DIR and FAKE_DIR, or ICFID with --per-class; `FAKE_DIR --ref DATASET`
    compares with a prepared dataset's cached real statistics. Offline Inception, clean-fid resize."""
    from ..errors import UcganError
    from ..io import write_json
    from ..metrics.folders import score_folders
    from ..metrics.suite import json_safe

    want = 1 if ref else 2
    if len(dirs) != want:
        raise UcganError("usage: `ucgan fid REAL_DIR FAKE_DIR` or `ucgan fid FAKE_DIR --ref DATASET` "
                         f"(got {len(dirs)} folder(s){' with --ref' if ref else ''})")
    real_dir, fake_dir = (None, dirs[0]) if ref else (dirs[0], dirs[1])
    score = score_folders(real_dir, fake_dir, ref=ref, params_path=params_path, per_class=per_class, matching=matching,
                          with_kid=with_kid, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, device=device,
                          batch_size=batch_size)
    if per_class:
        _echo_per_class(score)
    else:
        _echo_fid(score, ref)
    if json_path is not None:
        write_json(json_path, json_safe(score.record))
        click.echo(f"wrote {json_path}")


def _echo_fid(score: FolderScore, ref: str | None) -> None:
    out = score.record
    line = f"FID {out['fid']:.4f}"
    if "kid" in out:
        line += f"  KID {out['kid']:.5f} ± {out['kid_std']:.5f}"
    click.echo(f"{line}  (real {out['n_real']} {'from ' + ref if ref else 'images'}, fake {out['n_fake']} images)")


def _echo_per_class(score: FolderScore) -> None:
    out = score.record
    rnames, n_clusters = out["classes"], len(out["clusters"])
    kids = out.get("kid_per_class")
    click.echo(f"ICFID {out['icfid']:.4f}  ({out['matching']} matching, {len(rnames)} classes, {n_clusters} clusters)")
    w = max(len(r) for r in rnames)
    for i, (r, name, v) in enumerate(zip(rnames, score.matched, out["icfid_per_class"])):
        kid_txt = f"  KID {kids[i]:.5f}" if kids is not None and kids[i] is not None else ""
        click.echo(f"  {r:<{w}} -> {name if name is not None else '-':<12} FID {v:.4f}{kid_txt}")
    if n_clusters < len(rnames):
        click.echo("  (fewer clusters than classes: unmatched classes count as inf)")


COMMANDS: tuple[click.Command, ...] = (fid_command,)
