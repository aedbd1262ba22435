"""Exceptions raised by the notices package.

    NoticeError                 base of everything below
    ├── TemplateMissing         no template for this kind (or a malformed kind/language):
    │                           a fact about our configuration; retrying will not help
    └── DeliveryError           a message could not be handed over; `.temporary` says
                                whether to retry later or give up

`DeliveryError.temporary` classifies the failure:

- temporary ("could not find out", retry later): connection refused or reset,
  timeout, TLS failure, SMTP 4xx, HTTP 5xx, HTTP 408 and 429;
- permanent (a fact: this recipient will not take this message as it is): SMTP
  5xx (including all recipients rejected), HTTP 3xx (redirects are never
  followed), HTTP 4xx other than 408/429.

`DeliveryError.contact` says whether the failure is about the recipient's address
itself (SMTP RCPT refused, a webhook's own answer or silence) rather than about our
side (our SMTP relay unreachable, authentication or STARTTLS refused, no SMTP
configured): only a contact's own failures may mark it bad.
"""

from __future__ import annotations


class NoticeError(Exception):
    """Base class of every error raised by `notices`."""


class TemplateMissing(NoticeError):
    """There is no template for the requested notice kind."""


class DeliveryError(NoticeError):
    """A notice could not be delivered; `temporary` says whether a retry may succeed."""

    def __init__(self, message: str, *, temporary: bool, contact: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.contact = contact

    def __repr__(self) -> str:
        return (f"DeliveryError({str(self)!r}, temporary={self.temporary}, "
                f"contact={self.contact})")
