"""MLflow model registry of trained generators: one registered model ``ucgan-<dataset>`` per dataset.

Every evaluated run (``models/<dataset>/<method>-s<seed>/``) becomes one *version* of
``ucgan-<dataset>``, tagged with what a teammate needs to choose between versions without opening
them (``method``, ``seed``, ``icfid``, ``fid``, ``nmi``, ``mixing_l1``, ``extractor``, the training
``run_id`` and the ``model_sha256`` of ``model.pt``). The report stage points the alias
``champion`` at the version with the lowest ICFID, so ``models:/ucgan-<dataset>@champion`` always
names the current best generator.

Why no pickles: stores (the team server, its artifact bucket, DVC caches) are shared, and loading a
pickle executes whatever code is in it. A version is therefore logged as an MLflow *models from
code* pyfunc: the ``python_model`` is the path of :mod:`ucgan.registry_model_code` (three lines that
import this installed package) and the only artifact is ``model.pt`` (tensors and plain data, read
with ``weights_only=True``). ``ucgan sample`` goes further and never executes anything from the
store: it downloads the artifacts and reads ``model.pt`` itself (:func:`load_generator`).

Where: the local SQLite store ``mlruns/mlflow.db`` by default (see :mod:`ucgan.tracking`), a team
server when ``MLFLOW_TRACKING_URI`` or ``tracking.uri`` says so; an unreachable server is a
:class:`~ucgan.errors.TrackingError` before any work.

Each run is registered once, by its evaluate stage. The report stage only looks the champion's
version up (:func:`registered_version`) and moves the alias; it registers a run itself only when
that run has no version yet (evaluated while tracking was off). Registration is idempotent anyway
(a version whose ``model_sha256`` tag matches is reused, its metric tags refreshed).

The package, by concern: :mod:`.tags` (names, alias, tag values), :mod:`.store` (connecting),
:mod:`.publish` (logging and registering a version), :mod:`.champion` (the rule and the alias),
:mod:`.versions` (reading versions), :mod:`.tables` (the comparison as text), :mod:`.sampling`
(loading a generator, drawing samples), :mod:`.pyfunc` (the served wrapper). The ``ucgan registry``
and ``ucgan sample`` commands are :mod:`ucgan.cli.registry`. MLflow and torch are imported inside
the functions.
"""
from __future__ import annotations

from .champion import pick_champion, set_champion
from .publish import register_generator, registered_version
from .pyfunc import make_pyfunc_model
from .sampling import load_generator, sample_tensor, save_samples_npy, save_samples_png
from .store import connect, tracking_from_params
from .tables import format_means, format_rows
from .tags import CHAMPION_ALIAS, file_sha256, fmt_tag, model_name, parse_tag
from .versions import VersionRow, registered_datasets, registry_rows

#: the registry's public names; the rest (tag names, MLflow plumbing) is imported from its module
__all__ = [
    "CHAMPION_ALIAS", "VersionRow", "connect", "file_sha256", "fmt_tag", "format_means", "format_rows", "load_generator",
    "make_pyfunc_model", "model_name", "parse_tag", "pick_champion", "register_generator", "registered_datasets",
    "registered_version", "registry_rows", "sample_tensor", "save_samples_npy", "save_samples_png", "set_champion",
    "tracking_from_params",
]
