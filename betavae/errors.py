"""Errors the pipeline reports to the user as one clear line, without a traceback."""


class BetaVAEError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class ParamsError(BetaVAEError):
    """A value in params.yaml is missing, unknown or out of range."""


class DataError(BetaVAEError):
    """The dataset could not be fetched, or a data file is missing or corrupt."""
