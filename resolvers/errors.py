"""The exceptions of the resolvers package.

Most of this package never raises for trouble out on the internet: the lookup
functions return a result whose ``error`` says what could not be found out.
Exceptions are kept for mistakes a caller can fix (a bad URL, a bad setting)
and for internal signalling between a fetch and the code that classifies it::

    ResolverError                 base of everything raised here
     ├── InvalidURL               (also a ValueError) the URL cannot be accepted;
     │                            str(exc) is the human reason
     ├── BootstrapError           the RDAP bootstrap files are missing or malformed
     └── LookupFailed             internal: one fetch failed (never escapes a
          │                       public lookup function)
          ├── RecordNotFound      a FACT: the server says there is no such record
          ├── LookupRejected      the answer can never be used (too large, 4xx):
          │                       retrying will not help
          └── LookupUnavailable   could not find out now: retry later
                                  (timeout, 5xx, refused connection, bad answer)
"""

from __future__ import annotations


class ResolverError(Exception):
    """Base class of every exception raised by the resolvers package."""


class InvalidURL(ResolverError, ValueError):
    """The URL cannot be accepted; ``str(exc)`` is a reason a person can act on."""


class BootstrapError(ResolverError):
    """The IANA RDAP bootstrap files could not be loaded or parsed."""


class LookupFailed(ResolverError):
    """One lookup failed. Internal: public functions turn it into an ``error``."""

    retryable: bool = True


class RecordNotFound(LookupFailed):
    """A fact: the authoritative source has no such record."""

    retryable = False


class LookupUnavailable(LookupFailed):
    """Could not find out now (timeout, server error, garbled answer): retry later."""

    retryable = True


class LookupRejected(LookupFailed):
    """The answer can never be used (too large, refused request): retrying will not help."""

    retryable = False
