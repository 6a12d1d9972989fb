"""``python -m ucgan.cli``: the same ``main`` group as the ``ucgan`` entry point."""
from __future__ import annotations

from . import main

if __name__ == "__main__":  # pragma: no cover
    main()
