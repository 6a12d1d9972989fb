"""MLflow "models from code" entry point of a registered ucgan generator.

:func:`ucgan.registry.register_generator` logs *this file's path* as the pyfunc ``python_model``.
MLflow copies the file into the model and executes it when someone calls
``mlflow.pyfunc.load_model``. It is deliberately tiny and imports every piece of logic from the
*installed* ``ucgan`` package, so what a shared store holds is data (``model.pt``, loaded with
``weights_only=True``) plus these three lines, never pickled code. ``ucgan sample`` does not even
execute this file: it reads ``model.pt`` directly (see :func:`ucgan.registry.load_generator`).
"""
from mlflow.models import set_model

from ucgan.registry import make_pyfunc_model

set_model(make_pyfunc_model())
