"""Run many (dataset, method, config, seed) trainings in parallel processes and score them.

Used for the issues' measured targets (3 seeds of SLOGAN on ring8-1to3, CGPGAN on gauss4, ...): each
job trains through the project's one loop (`ucgan.training.train`) and is scored by the project's
evaluation suite (`ucgan.metrics.suite.evaluate_method`), with tracking off. One thread per process,
so a 16-core runner takes 14 jobs at once.

    python benchmarks/exp_runner.py jobs.json --out results.json --workers 14
jobs.json: [{"name": ..., "dataset": ..., "method": ..., "seed": 0, "steps": 3000, "config": {...}, "eval": {...}}]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    from ucgan.config import from_mapping
    from ucgan.data.dataset import load_split
    from ucgan.env import resolve_device, seed_everything
    from ucgan.methods import DataInfo, get_method
    from ucgan.metrics.suite import EvalProfile, evaluate_method
    from ucgan.training import LoopConfig, train

    t0 = time.time()
    try:
        root = job.get("root", "data/prepared")
        tr, te = load_split(job["dataset"], "train", root), load_split(job["dataset"], "test", root)
        info = DataInfo.from_manifest({**tr.manifest, "dataset": job["dataset"]})
        cls = get_method(job["method"])
        cfg = from_mapping(cls.Config, job.get("config", {}), job["name"])
        dev = resolve_device(job.get("device", "cpu"))
        seed_everything(job["seed"])
        m = cls(cfg, info, dev)
        out = Path(job.get("out_dir", "exp_runs")) / job["name"]
        loop = LoopConfig(steps=job["steps"], log_every=max(1, job["steps"] // 20), ckpt_every=10**9,
                          progress=False, ema_decay=job.get("ema_decay", 0.0))
        res = train(m, tr.x, loop, job["seed"], out, out / "ckpt.pt")
        ev = evaluate_method(m, tr, te, from_mapping(EvalProfile, job.get("eval", {}), "eval"), device=dev,
                             dataset=job["dataset"])
        keep = {k: ev.get(k) for k in ("fid", "icfid", "nmi", "mixing_l1", "mixing_learned", "mixing_true",
                                       "num_modes", "modes_covered", "high_quality_share", "reverse_kl", "reverse_kl_uniform", "assignment", "mixing_l1_grouped",
                                       "mixing_per_class_learned") if k in ev}
        return {**job, "ok": True, "seconds": round(time.time() - t0, 1), "train_ips": res.images_per_second,
                "mixing": [float(v) for v in (m.mixing() if m.mixing() is not None else [])], "metrics": keep}
    except Exception as exc:  # keep the other jobs going; report the failure
        return {**job, "ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("jobs")
    ap.add_argument("--out", default="exp_results.json")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    jobs = json.loads(Path(a.jobs).read_text())
    ctx = mp.get_context("spawn")
    results = []
    with ctx.Pool(a.workers) as pool:
        for r in pool.imap_unordered(run_job, jobs):
            results.append(r)
            m = r.get("metrics", {})
            print(json.dumps({k: r.get(k) for k in ("name", "ok", "seconds", "error")} | {
                k: m.get(k) for k in ("mixing_l1", "mixing_l1_grouped", "modes_covered", "high_quality_share", "nmi", "icfid")}), flush=True)
            Path(a.out).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
