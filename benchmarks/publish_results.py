"""Publish a finished pipeline run: the report, the claims table, the exact params, the commit and the
wall time of every stage, copied into a folder that is committed (e.g. ``results/repro-cpu/``).

Why: a reader should see the evidence of a reproduction without spending the CPU-hours it took; the
folder holds only what the pipeline wrote (nothing is recomputed here) plus where and how it ran.

    python benchmarks/publish_results.py --workspace ../ucgan-repro-cpu --out results/repro-cpu

The folder also keeps every run's metrics file (``metrics/<dataset>/<run>.json``, ~3 KB each) so that the
tables can be re-rendered, checked against a new protocol or extended with more runs without the
workspace that trained them (the models stay in the DVC cache).

Wall times come from the files the stages write: ``train.json`` (training seconds, images/s) beside each
model, ``seconds.total`` of each metrics file, and the encoders' and clusters' ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

#: report files copied as they are (the figures and plot data folders are copied whole)
REPORT_FILES = ("claims.md", "claims.json", "summary.csv", "wilcoxon.csv", "defaults_gap.json", "orderings.json")


#: the repository this script belongs to (its claims and paper tables)
ROOT = Path(__file__).resolve().parents[1]


def _rel(target: Path, start: Path) -> str:
    """``target`` as seen from the folder ``start`` (relative, so the published README works in any clone)."""
    return os.path.relpath(target.resolve(), start.resolve())


def _git(ws: Path, *args: str) -> str:
    r = subprocess.run(["git", *args], cwd=ws, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def _read(p: Path) -> dict[str, Any]:
    try:
        out = json.loads(p.read_text(encoding="utf-8"))
        return out if isinstance(out, dict) else {}
    except (OSError, ValueError):
        return {}


def metrics_dir(params: dict[str, Any]) -> Path:
    """Where the evaluate stages wrote the runs' metrics files (``evaluate.out_root``, relative to the workspace)."""
    return Path((params.get("evaluate") or {}).get("out_root", "metrics"))


def stage_times(ws: Path, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage run that left timing behind (seconds as the stage measured them)."""
    t = params.get("train") or {}
    out_root, metrics_root = Path(t.get("out_root", "models")), metrics_dir(params)
    rows: list[dict[str, Any]] = []
    for role in ("encoders", "eval-encoders", "clusters"):
        for d in sorted((ws / "models" / role).glob("*")):
            m = _read(d / "metrics.json")
            sec = m.get("seconds", m.get("train_seconds"))
            if sec is not None:
                rows.append({"stage": {"encoders": "pretrain", "eval-encoders": "eval-encoder", "clusters": "cluster"}[role],
                             "dataset": d.name, "run": "", "seconds": round(float(sec), 1)})
    for tj in sorted((ws / out_root).glob("*/*/train.json")):
        m = _read(tj)
        rows.append({"stage": "train", "dataset": tj.parent.parent.name, "run": tj.parent.name,
                     "seconds": round(float(m.get("seconds", 0.0)), 1), "steps": m.get("steps"),
                     "images_per_second": m.get("images_per_second")})
    for mj in sorted((ws / metrics_root).glob("*/*.json")):
        sec = (_read(mj).get("seconds") or {}).get("total")
        if sec is not None:
            rows.append({"stage": "evaluate", "dataset": mj.parent.name, "run": mj.stem, "seconds": round(float(sec), 1)})
    return rows


def publish(ws: Path, out: Path, reports: str = "reports", note: str = "") -> Path:
    rep = ws / reports
    if not (rep / "summary.csv").is_file():
        sys.exit(f"error: {rep}/summary.csv not found: run the pipeline in {ws} first (`dvc repro`)")
    params_text = (ws / "params.yaml").read_text(encoding="utf-8")
    params = yaml.safe_load(params_text) or {}
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in REPORT_FILES:
        if (rep / name).is_file():
            shutil.copy2(rep / name, tmp / name)
    for md in sorted(rep.glob("*.md")):
        shutil.copy2(md, tmp / md.name)
    for sub in ("figures", "plots", "sweeps"):
        if (rep / sub).is_dir():
            shutil.copytree(rep / sub, tmp / sub)
    metrics_rel = metrics_dir(params)
    copied = 0
    for mj in sorted((ws / metrics_rel).glob("*/*.json")):
        (tmp / "metrics" / mj.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(mj, tmp / "metrics" / mj.parent.name / mj.name)
        copied += 1
    (tmp / "params.yaml").write_text(params_text, encoding="utf-8")
    times = stage_times(ws, params)
    by_stage: dict[str, float] = {}
    for r in times:
        by_stage[r["stage"]] = by_stage.get(r["stage"], 0.0) + float(r["seconds"])
    prov = {
        "git_commit": _git(ws, "rev-parse", "HEAD"),
        "git_dirty": bool(_git(ws, "status", "--porcelain", "--untracked-files=no", "--", "src", "dvc.yaml")),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
        "seconds_per_stage_kind": {k: round(v, 1) for k, v in sorted(by_stage.items())},
        "note": note,
        "stages": times,
    }
    (tmp / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    claims = json.loads((tmp / "claims.json").read_text()) if (tmp / "claims.json").is_file() else []
    verdicts: dict[str, int] = {}
    for c in claims:
        verdicts[c["verdict"]] = verdicts.get(c["verdict"], 0) + 1
    runs = sum(1 for r in times if r["stage"] == "train")
    lines = [f"# Published run: {out.name}", "",
             f"What the pipeline produced with `params.yaml` (this folder's copy) at commit `{prov['git_commit'][:12]}`"
             + (" (with uncommitted changes)" if prov["git_dirty"] else "") + f", on {prov['machine']['cpus']} CPU cores.",
             "", *(["- [claims.md](claims.md): the papers' claims with their verdicts ("
                    + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) + ")"] if claims else []),
             "- [summary.csv](summary.csv), one Markdown table per dataset (`<dataset>.md`), `figures/`, `plots/` (DVC plot data)",
             *[f"- [sweeps/{p.name}](sweeps/{p.name}): imbalance sweep `{p.stem}` (summary table, figures)"
               for p in sorted((tmp / "sweeps").glob("*.md"))],
             *(["- [defaults_gap.md](defaults_gap.md): each method's default block alone vs its tuned settings"]
               if (tmp / "defaults_gap.md").is_file() else []),
             *(["- [orderings.md](orderings.md): the papers' comparison tables' method order beside ours (Kendall's tau)"]
               if (tmp / "orderings.md").is_file() else []),
             *([f"- `metrics/`: one metrics file per run ({copied}), as `ucgan evaluate` wrote it; "
                + ("the tables re-render from them in this folder (no models needed): `ucgan report --params "
                   f"params.yaml --no-registry --out reports --claims {_rel(ROOT / 'benchmarks' / 'claims.yaml', out)} "
                   f"--paper-tables {_rel(ROOT / 'benchmarks' / 'paper_tables.yaml', out)}`"
                   if metrics_rel == Path("metrics") else
                   f"(the params read them from `{metrics_rel}`: point `evaluate.out_root` at `metrics` to re-render)")]
               if copied else []),
             f"- [provenance.json](provenance.json): commit, machine and the wall time of every stage ({runs} trainings; "
             + ", ".join(f"{k} {v / 60:.1f} min" for k, v in prov["seconds_per_stage_kind"].items()) + " summed over runs)", ""]
    if note:
        lines += [note, ""]
    (tmp / "README.md").write_text("\n".join(lines), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)  # published in one rename: a half-copied folder is never left under the final name
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, default=Path("."), help="where the pipeline ran (has params.yaml, reports/)")
    ap.add_argument("--out", type=Path, required=True, help="folder to (re)write, e.g. results/repro-cpu")
    ap.add_argument("--note", default="", help="a paragraph for the folder's README (how the run was made)")
    a = ap.parse_args(argv)
    out = publish(a.workspace, a.out, note=a.note)
    print(f"published {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
