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
    colour_of_cluster = _match_colours(np.asarray(y_true), np.asarray(clusters))
    n_colours = int(max(y_true.max() + 1, colour_of_cluster.max() + 1))
    cmap = plt.get_cmap("tab10" if n_colours <= 10 else "tab20")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), constrained_layout=True)
    panels = ((axes[0], y_true[idx], y_true[idx], "true class"),
              (axes[1], clusters[idx], colour_of_cluster[clusters[idx]], "k-means cluster (colour = matched class)"))
    for ax, lab, col, name in panels:
        for v in np.unique(lab):
            m = lab == v
            ax.scatter(p[m, 0], p[m, 1], color=cmap(int(col[m][0]) % cmap.N), s=4, alpha=0.7, label=str(v))
        ax.set_title(f"{name} ({method.upper()})", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        if len(np.unique(lab)) <= 20:
            ax.legend(fontsize=6, markerscale=2, loc="best", ncols=2)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _match_colours(y_true: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Colour index per cluster id: the Hungarian-matched class, so a pure cluster has its class's
    colour; unmatched clusters (k > classes) get colours after the classes'."""
    from scipy.optimize import linear_sum_assignment

    k, c = int(clusters.max()) + 1, int(y_true.max()) + 1
    counts = np.zeros((k, c), dtype=np.int64)
    np.add.at(counts, (clusters, y_true), 1)
    rows, cols = linear_sum_assignment(-counts)
    colour = np.full(k, -1, dtype=np.int64)
    colour[rows] = cols
    spare = iter(range(c, c + k))
    for i in range(k):
        if colour[i] < 0:
            colour[i] = next(spare)
    return colour
