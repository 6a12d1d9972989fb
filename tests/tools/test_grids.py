"""Labelled sample grids: readable cell size, one labelled row per component, relabelled by the
report with the class each component was matched to."""
from __future__ import annotations

import json

import torch
from PIL import Image

from ucgan.grids import labelled_grid, matched_labels, relabel, share_label


def test_grid_is_readable_and_relabelled(tmp_path):
    samples = [torch.rand(8, 1, 28, 28) * 2 - 1 for _ in range(3)]
    p = labelled_grid(samples, tmp_path / "final.png", (-1.0, 1.0), [share_label(c, s) for c, s in enumerate([.2, .3, .5])],
                      "wgan step 10")
    w, h = Image.open(p).size
    assert w >= 8 * 64 and h >= 3 * 64  # was 247x58 px for MNIST
    layout = json.loads((tmp_path / "final.json").read_text())
    assert layout["rows"] == 3 and layout["cell"] == [84, 84]
    labels = matched_labels({"assignment": [2, 0, 1], "class_names": ["zero", "one", "two"]}, 3, [.2, .3, .5])
    assert labels[0] == "c0  share 20.0%  -> class one" and labels[2].endswith("class zero")
    assert relabel(p, tmp_path / "report.png", labels)
    a, b = Image.open(p), Image.open(tmp_path / "report.png")
    assert a.size == b.size and a.crop((200, 0, w, h)).tobytes() == b.crop((200, 0, w, h)).tobytes()  # pixels kept
    assert a.crop((0, 0, 170, h)).tobytes() != b.crop((0, 0, 170, h)).tobytes()  # labels redrawn
    assert not relabel(tmp_path / "missing.png", tmp_path / "x.png", labels)
