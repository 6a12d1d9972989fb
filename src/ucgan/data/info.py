"""What a method needs to know about a dataset to build its networks (from the dataset's manifest).

It lives with the data, below the networks and the methods, so that ``nets`` can pick an
architecture from it without importing the method layer.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """What a method needs to know about the data to build its networks."""

    modality: str                          # "points" | "vector" | "image"
    shape: tuple[int, ...]                 # per-sample shape, e.g. (2,), (720,), (1, 28, 28)
    value_range: tuple[float, float] | None  # None = unbounded (linear generator output)
    num_classes: int                       # K: number of components / codes the paper sets
    dataset: str = ""

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> "DataInfo":
        r = manifest.get("range")
        return cls(
            modality=str(manifest["modality"]),
            shape=tuple(int(s) for s in manifest["shape"]),
            value_range=None if r is None else (float(r[0]), float(r[1])),
            num_classes=len(manifest["class_names"]),
            dataset=str(manifest.get("dataset", "")),
        )
