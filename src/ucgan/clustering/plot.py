"""``embedding.png``: a 2-D view of the clustered representation, coloured by truth and by cluster.

For eyeballing only (the numbers are in metrics.json): side-by-side panels make it obvious whether
clusters split or merge true classes, and whether a minority class got its own cluster.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np


def embed_2d(x: np.ndarray, method: Literal["pca", "tsne"], seed: int = 0) -> np.ndarray:
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (len(x) - 1) / 3)).fit_transform(x)
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(x)


def plot_embedding(path: str | Path, x: np.ndarray, y_true: np.ndarray, clusters: np.ndarray, *,
                   method: Literal["pca", "tsne"] = "pca", max_points: int = 2000, seed: int = 0,
                   title: str = "") -> None:
    """Write the two-panel scatter plot to ``path`` (a fixed random subset of ``max_points``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))[:max_points] if len(x) > max_points else np.arange(len(x))
    p = embed_2d(np.asarray(x)[idx], method, seed)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), constrained_layout=True)
    for ax, lab, name in ((axes[0], y_true[idx], "true class"), (axes[1], clusters[idx], "k-means cluster")):
        sc = ax.scatter(p[:, 0], p[:, 1], c=lab, cmap="tab10" if lab.max() < 10 else "tab20", s=4, alpha=0.7)
        ax.set_title(f"{name} ({method.upper()})")
        ax.set_xticks([])
        ax.set_yticks([])
        if lab.max() < 20:
            ax.legend(*sc.legend_elements(num=None), fontsize=6, markerscale=0.8, loc="best", ncols=2)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
