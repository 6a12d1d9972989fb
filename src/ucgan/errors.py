"""User-facing errors.

Every failure a user can cause (bad params, missing data, unknown method, unreachable tracking
server, divergence) is raised as a :class:`UcganError` whose message names the cause and the fix.
The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class UcganError(Exception):
    """An error the user can fix; the message says what went wrong and how to fix it."""


class ConfigError(UcganError):
    """Invalid or unknown key/value in params.yaml or on the command line."""


class DataError(UcganError):
    """Missing, corrupt or invalid data files."""


class DataQualityError(DataError):
    """A Great Expectations validation failed; the message lists every failed expectation."""


class DivergenceError(UcganError):
    """A loss became NaN or Inf during training."""


class TrackingError(UcganError):
    """The MLflow tracking server cannot be reached or refused a request."""


class Interrupted(UcganError):
    """A run stopped on purpose (SIGINT/SIGTERM) after saving its state; tracking marks it KILLED."""
