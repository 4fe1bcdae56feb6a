"""One exception taxonomy for every failure a user can cause.

Every reader and analysis in battlab raises only these for bad input, so that the
apps and the command line can turn any of them into a plain message. Each message
says what was wrong and what to do next.
"""

__all__ = [
    "BattlabError",
    "UnsupportedFormatError",
    "UnsupportedVersionError",
    "CorruptFileError",
    "TooLargeError",
    "ResourceLimitError",
    "MissingDataError",
    "InvalidParameterError",
    "BattlabWarning",
]


class BattlabError(Exception):
    """Base class: a problem with the user's input that battlab explains."""


class UnsupportedFormatError(BattlabError):
    """The bytes are not any format battlab can read (wrong file, wrong magic)."""


class UnsupportedVersionError(BattlabError):
    """The format is known but this version or variant of it is not supported."""


class CorruptFileError(BattlabError):
    """The file is truncated or internally inconsistent."""


class TooLargeError(BattlabError):
    """The input (or what it declares it will expand to) exceeds battlab's budget."""


class ResourceLimitError(TooLargeError):
    """Reading needed more memory or time than battlab allows for one file."""


class MissingDataError(BattlabError):
    """A column, channel or metadata item that the analysis needs is absent."""


class InvalidParameterError(BattlabError, ValueError):
    """A parameter value is outside what the analysis accepts."""


class BattlabWarning(UserWarning):
    """Data were usable but something was repaired or dropped; the message says what."""
