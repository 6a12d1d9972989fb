"""Networks of the SLOGAN paper's appendix E, selected by data modality and shape.

Use :func:`build_generator`, :func:`build_discriminator` and :func:`build_encoder`; every method
shares them so methods differ only in their algorithms, not their capacity. ``width`` scales all
hidden widths/channels (1.0 = the paper's tables; the CPU profile uses e.g. 0.25).
"""
from .builders import SUPPORTED, build_discriminator, build_encoder, build_generator
from .common import Discriminator, output_activation

__all__ = [
    "SUPPORTED",
    "Discriminator",
    "build_discriminator",
    "build_encoder",
    "build_generator",
    "output_activation",
]
