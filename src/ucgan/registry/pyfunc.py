"""The pyfunc wrapper MLflow serves for a registered generator (``mlflow.pyfunc.load_model``).

Why apart: it is the only code a registered version runs, reached through the three-line entry
point :mod:`ucgan.registry_model_code`; it subclasses MLflow's ``PythonModel``, so it is built
lazily and importing the registry stays cheap for the CLI.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .sampling import load_model_file, sample_tensor
from .tags import RESOURCE_KEYS


def make_pyfunc_model() -> Any:
    """The pyfunc wrapper MLflow serves (built lazily so importing this module stays cheap for the CLI).

    Input: a DataFrame with ``n`` and optional ``component`` (-1 or missing = the mixture) and
    ``seed`` columns, one request per row. Output: float32 samples ``(sum n, *shape)``. The device is
    ``$UCGAN_DEVICE`` (default auto).
    """
    import mlflow.pyfunc
    import numpy as np

    return _generator_model_class(mlflow.pyfunc.PythonModel, np)()


def _generator_model_class(base: type, np: Any) -> type:
    class GeneratorModel(base):  # type: ignore[misc]
        """Samples from a ucgan generator stored as ``model.pt`` (tensors only)."""

        # The logged signature (a DataFrame with n/component/seed) is what MLflow validates inputs
        # against; this flag stops PythonModel from also wrapping predict for type-hint validation
        # (and from warning on every load that predict has no hints).
        _skip_type_hint_validation = True

        def load_context(self, context: Any) -> None:
            from ..env import resolve_device

            device = resolve_device(os.environ.get("UCGAN_DEVICE", "auto"))
            arts = dict(context.artifacts)
            resources = {k: v for k, v in arts.items() if k in RESOURCE_KEYS}
            self.method, self.ema, self.meta = load_model_file(Path(arts["model"]), device, resources)

        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]  # MLflow reads hints as a schema
            rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
            outs = []
            for r in rows:
                comp = r.get("component")
                comp = None if comp is None or (isinstance(comp, float) and math.isnan(comp)) or int(comp) < 0 else int(comp)
                seed = r.get("seed")
                seed = 0 if seed is None or (isinstance(seed, float) and math.isnan(seed)) else int(seed)
                outs.append(sample_tensor(self.method, self.ema, int(r["n"]), comp, seed).numpy())
            return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0, *self.method.info.shape), np.float32)

    return GeneratorModel
