"""User-facing errors: one line that names the file or option and the fix."""


class HeadstartError(Exception):
    """A mistake the user can fix. The CLI prints ``str(err)`` on one line, without a traceback."""


class OptionError(HeadstartError):
    """An option whose value is outside what it allows (named with the value and the range)."""


class DataError(HeadstartError):
    """A problem with the user's data: a folder, a file, a class map."""


class BackboneError(HeadstartError):
    """A backbone that is unknown or whose weights are not available."""


class CheckpointError(HeadstartError):
    """A checkpoint that is missing, corrupt, or does not match what it is used with."""


class NonFiniteLossError(HeadstartError):
    """Training produced a NaN or infinite loss."""
