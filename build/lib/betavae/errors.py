"""Errors the pipeline reports to the user as one clear line, without a traceback."""


class BetaVAEError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""

    exit_code = 2
    label = "error"


class ParamsError(BetaVAEError):
    """A value in params.yaml is missing, unknown or out of range."""


class DataError(BetaVAEError):
    """The dataset could not be fetched, or a data file is missing or corrupt."""


class WriteError(BetaVAEError):
    """An output file could not be written (a full disk, no permission); the old file is left as it was."""


class TrainingError(BetaVAEError):
    """Training cannot go on, e.g. the loss stopped being finite."""


class Interrupted(BetaVAEError):
    """The user stopped a stage (Ctrl-C); the message says how to go on."""

    exit_code = 130
    label = "interrupted"
