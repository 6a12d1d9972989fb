"""Gaussian feature statistics and the Fréchet distance, computed by the project in float64.

Why not ``scipy.linalg.sqrtm(S1 @ S2)`` (clean-fid, pytorch-fid)? It square-roots a *non-symmetric*
matrix through a Schur decomposition: ~10 s at 2048-d on two cores, it can return spurious complex
parts that the libraries silently drop, and clean-fid's call uses a ``disp`` argument SciPy 1.18
removes. We use the symmetric route instead:

    tr sqrt(S1 S2) = tr sqrt(A)  with  A = sqrt(S1) S2 sqrt(S1)   (A is symmetric PSD, same eigenvalues)

``sqrt(S1)`` comes from one ``eigh`` (negative round-off eigenvalues clipped to 0) and the trace from
the eigenvalues of ``A`` (``eigvalsh``, clipped, square-rooted, summed). Every step stays real and
symmetric, and ``sqrt(S1)`` can be computed once per real class and reused for every cluster, which
is what makes ICFID cheap (see :func:`fid_matrix`).
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import scipy.linalg

if TYPE_CHECKING:
    import torch

#: Rows per chunk when accumulating statistics: bounds the float64 copy of a feature block.
_CHUNK_ROWS = 4096
#: Max bytes of stacked float64 d x d matrices the batched torch path holds at once.
_TORCH_BATCH_BYTES = 1 << 29
#: Below this dimension BLAS/LAPACK run single-threaded (see :func:`_blas_threads`).
_SMALL_DIM = 512


@contextlib.contextmanager
def _blas_threads(dim: int) -> Iterator[None]:
    """Run small problems on one BLAS thread.

    Threads buy nothing below a few hundred dimensions, and on a shared, oversubscribed machine
    OpenBLAS's spinning worker threads made a 256-d ICFID ~60x slower (12 s instead of 0.2 s,
    measured on 2 busy cores). Large problems keep the library's default thread count.
    """
    if dim >= _SMALL_DIM:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


@dataclasses.dataclass(frozen=True)
class GaussianStats:
    """Mean, (unbiased, ``N - 1``) covariance and sample count of a feature set, all float64.

    ``sigma`` is ``None`` when ``n < 2``: a covariance is undefined, and every Fréchet distance
    involving these statistics is ``inf`` (so ICFID never matches a starved cluster if it can avoid it).
    """

    mu: np.ndarray
    sigma: np.ndarray | None
    n: int

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    @property
    def valid(self) -> bool:
        return self.sigma is not None and self.n >= 2

    def covariance(self) -> np.ndarray:
        """``sigma``, or a ``ValueError`` for statistics of fewer than 2 samples (check :attr:`valid`)."""
        if self.sigma is None:
            raise ValueError(f"no covariance: the statistics hold {self.n} sample(s), at least 2 are needed")
        return self.sigma

    @classmethod
    def from_features(cls, features: np.ndarray) -> "GaussianStats":
        acc = RunningStats()
        acc.update(features)
        return acc.finalize()


class RunningStats:
    """Streaming mean/covariance in float64 (Chan et al.'s pairwise merge of chunk moments).

    Why streaming: fake sets are sampled and embedded batch by batch (e.g. 100 clusters x 5,000 x
    2048 features would be 4 GB); only d + d^2 float64 numbers are kept. Merging centred chunk
    moments instead of raw sums avoids the cancellation of ``E[xx^T] - mu mu^T`` in large features.
    """

    def __init__(self, dim: int | None = None) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None if dim is None else np.zeros(dim)
        self.m2: np.ndarray | None = None if dim is None else np.zeros((dim, dim))

    def update(self, features: np.ndarray) -> None:
        x = np.asarray(features)
        if x.ndim != 2:
            raise ValueError(f"features must be 2-D (N, d), got shape {x.shape}")
        for start in range(0, x.shape[0], _CHUNK_ROWS):
            self._update_chunk(x[start : start + _CHUNK_ROWS].astype(np.float64))

    def _update_chunk(self, x: np.ndarray) -> None:
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(axis=0)
        xc = x - mb
        m2b = xc.T @ xc
        if self.mean is None or self.n == 0:
            self.mean, self.m2, self.n = mb, m2b, nb
            return
        if mb.shape != self.mean.shape:
            raise ValueError(f"feature dimension changed from {self.mean.shape[0]} to {mb.shape[0]}")
        n = self.n + nb
        delta = mb - self.mean
        self.m2 = self.m2 + m2b + np.outer(delta, delta) * (self.n * nb / n)
        self.mean = self.mean + delta * (nb / n)
        self.n = n

    def finalize(self) -> GaussianStats:
        if self.mean is None:
            raise ValueError("no features were accumulated (empty feature set)")
        sigma: np.ndarray | None = None
        if self.n >= 2:
            assert self.m2 is not None  # set together with ``mean``
            cov = self.m2 / (self.n - 1)
            sigma = 0.5 * (cov + cov.T)  # exact symmetry for eigh
        return GaussianStats(mu=self.mean.copy(), sigma=sigma, n=self.n)


# ---------------------------------------------------------------------------- numpy (CPU) route
def sqrtm_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root by ``eigh``; negative (round-off or rank-deficient) eigenvalues -> 0."""
    lam, vec = scipy.linalg.eigh(np.asarray(sigma, dtype=np.float64), driver="evd", check_finite=False)
    return np.asarray((vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T)


def trace_sqrt_product(sqrt_s1: np.ndarray, s2: np.ndarray) -> float:
    """``tr sqrt(S1 S2)`` given ``sqrt(S1)``: eigenvalues of the symmetric ``sqrt(S1) S2 sqrt(S1)``."""
    a = sqrt_s1 @ s2 @ sqrt_s1
    a = 0.5 * (a + a.T)
    ev = scipy.linalg.eigh(a, eigvals_only=True, driver="evd", check_finite=False, overwrite_a=True)
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


def _assemble(mu1: np.ndarray, tr1: float, mu2: np.ndarray, tr2: float, tr_sqrt: float) -> float:
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    d = float(diff @ diff) + tr1 + tr2 - 2.0 * tr_sqrt
    # Round-off can push a distance of ~0 slightly below zero; a distance is never negative.
    return max(d, 0.0)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance ``|mu1-mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2))`` of two Gaussians (float64).

    Identical statistics return exactly 0 (the symmetric route would otherwise leave ~1e-12 of
    round-off from clipping tiny negative eigenvalues of a rank-deficient covariance).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.shape[0],) * 2:
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    if np.array_equal(mu1, mu2) and np.array_equal(s1, s2):
        return 0.0
    with _blas_threads(mu1.shape[0]):
        tr_sqrt = trace_sqrt_product(sqrtm_psd(s1), s2)
    return _assemble(mu1, float(np.trace(s1)), mu2, float(np.trace(s2)), tr_sqrt)


def fid_from_stats(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance of two :class:`GaussianStats`; ``inf`` if either has fewer than 2 samples."""
    if not (a.valid and b.valid):
        return float("inf")
    return frechet_distance(a.mu, a.covariance(), b.mu, b.covariance())


# ---------------------------------------------------------------------------- few samples
def _scaled_centred(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, C)`` with ``C = (x - mu) / sqrt(n - 1)``, so that ``sigma = C^T C``."""
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=0)
    return mu, (x - mu) / np.sqrt(x.shape[0] - 1)


def lowrank_applicable(n1: int, n2: int, dim: int) -> bool:
    """Whether :func:`frechet_distance_lowrank` is the cheaper exact route (fewer samples than dims)."""
    return 2 <= min(n1, n2) and max(n1, n2) < dim


def frechet_distance_lowrank(x1: np.ndarray, x2: np.ndarray) -> float:
    """Exact Fréchet distance of two *feature sets* with fewer samples than dimensions.

    With ``S1 = C1^T C1`` and ``S2 = C2^T C2`` (centred, scaled samples), the non-zero eigenvalues
    of ``S1 S2`` are the squared singular values of the small ``n1 x n2`` matrix ``C1 C2^T``, so
    ``tr sqrt(S1 S2)`` is its nuclear norm. A 2048-d FID of two folders of 50 images then costs
    milliseconds instead of two 2048 x 2048 eigen-decompositions (seconds).
    """
    x1, x2 = np.asarray(x1), np.asarray(x2)
    if x1.shape[0] < 2 or x2.shape[0] < 2:
        return float("inf")
    if x1.shape == x2.shape and np.array_equal(x1, x2):
        return 0.0
    mu1, c1 = _scaled_centred(x1)
    mu2, c2 = _scaled_centred(x2)
    with _blas_threads(max(c1.shape[0], c2.shape[0])):
        nuclear = float(np.linalg.svd(c1 @ c2.T, compute_uv=False).sum())
    return _assemble(mu1, float((c1 * c1).sum()), mu2, float((c2 * c2).sum()), nuclear)


# ---------------------------------------------------------------------------- torch route (GPU)
def frechet_distance_torch(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:  # tensors or arrays
    """Same symmetric route in torch float64, on the device of ``sigma1`` if it is a tensor.

    Useful when statistics already live on a GPU (cuSOLVER's ``eigh`` is much faster there).
    """
    import torch

    dev = sigma1.device if isinstance(sigma1, torch.Tensor) else torch.device("cpu")
    t = [torch.as_tensor(v, dtype=torch.float64, device=dev) for v in (mu1, sigma1, mu2, sigma2)]
    m1, s1, m2, s2 = t
    if torch.equal(m1, m2) and torch.equal(s1, s2):
        return 0.0
    w = _torch_sqrtm_psd(s1)
    tr_sqrt = float(_torch_trace_sqrt(w, s2.unsqueeze(0))[0])
    return _assemble(m1.cpu().numpy(), float(torch.trace(s1)), m2.cpu().numpy(), float(torch.trace(s2)), tr_sqrt)


def _torch_sqrtm_psd(sigma: torch.Tensor) -> torch.Tensor:
    import torch

    lam, vec = torch.linalg.eigh(sigma)
    root: torch.Tensor = (vec * lam.clamp_min(0).sqrt()) @ vec.T
    return root


def _torch_trace_sqrt(w: torch.Tensor, sigmas: torch.Tensor) -> np.ndarray:
    """``tr sqrt(W S_c W)`` for a stack ``sigmas`` (B, d, d): one batched matmul + batched eigvalsh."""
    import torch

    a = w @ sigmas @ w
    a = 0.5 * (a + a.transpose(-1, -2))
    ev = torch.linalg.eigvalsh(a)
    return np.asarray(ev.clamp_min(0).sqrt().sum(-1).cpu().numpy())


# ---------------------------------------------------------------------------- all pairs
def fid_matrix(
    real: Sequence[GaussianStats], fake: Sequence[GaussianStats], device: "str | None" = None
) -> np.ndarray:
    """``D[y, c] = FID(real class y, fake cluster c)`` for all pairs, reusing work across pairs.

    ``sqrt(S_y)`` is computed once per real class (not once per pair) and traces once per set;
    only ``sqrt(S_y) S_c sqrt(S_y)`` and its eigenvalues are per pair. ``device`` = a torch device
    string (e.g. ``"cuda"``) runs the per-pair work batched in torch float64; ``None`` uses
    NumPy/SciPy on the CPU. Pairs with a starved set (n < 2) are ``inf``.
    """
    out = np.full((len(real), len(fake)), np.inf)
    dims = {s.dim for s in list(real) + list(fake)}
    if len(dims) > 1:
        raise ValueError(f"feature dimensions differ between sets: {sorted(dims)}")
    fake_ok = [j for j, s in enumerate(fake) if s.valid]
    fake_tr = {j: float(np.trace(fake[j].covariance())) for j in fake_ok}
    if device is not None:
        return _fid_matrix_torch(real, fake, fake_ok, fake_tr, out, device)
    with _blas_threads(dims.pop() if dims else 0):
        _fid_matrix_numpy(real, fake, fake_ok, fake_tr, out)
    return out


def _fid_matrix_numpy(real: Sequence[GaussianStats], fake: Sequence[GaussianStats], fake_ok: list[int],
                      fake_tr: dict[int, float], out: np.ndarray) -> None:
    for i, r in enumerate(real):
        if not r.valid:
            continue
        w = None
        r_sigma = r.covariance()
        tr_r = float(np.trace(r_sigma))
        for j in fake_ok:
            f = fake[j]
            f_sigma = f.covariance()
            if np.array_equal(r.mu, f.mu) and np.array_equal(r_sigma, f_sigma):
                out[i, j] = 0.0
                continue
            if w is None:
                w = sqrtm_psd(r_sigma)
            out[i, j] = _assemble(r.mu, tr_r, f.mu, fake_tr[j], trace_sqrt_product(w, f_sigma))


def _fid_matrix_torch(real: Sequence[GaussianStats], fake: Sequence[GaussianStats], fake_ok: list[int],
                      fake_tr: dict[int, float], out: np.ndarray, device: str) -> np.ndarray:
    import torch

    dev = torch.device(device)
    if not fake_ok:
        return out
    d = fake[fake_ok[0]].dim
    chunk = max(1, _TORCH_BATCH_BYTES // (8 * d * d * 3))  # a, w@s and the stack itself
    for i, r in enumerate(real):
        if not r.valid:
            continue
        r_sigma = r.covariance()
        w = _torch_sqrtm_psd(torch.as_tensor(r_sigma, dtype=torch.float64, device=dev))
        tr_r = float(np.trace(r_sigma))
        for start in range(0, len(fake_ok), chunk):
            idx = fake_ok[start : start + chunk]
            stack = torch.stack([torch.as_tensor(fake[j].covariance(), dtype=torch.float64, device=dev) for j in idx])
            trs = _torch_trace_sqrt(w, stack)
            for j, ts in zip(idx, trs):
                f = fake[j]
                if np.array_equal(r.mu, f.mu) and np.array_equal(r_sigma, f.covariance()):
                    out[i, j] = 0.0
                else:
                    out[i, j] = _assemble(r.mu, tr_r, f.mu, fake_tr[j], float(ts))
    return out
