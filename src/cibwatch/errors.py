"""Exceptions raised by cibwatch.

CibwatchError
├── InputFormatError      a file is not a known format, or not the one asked for
├── BadRecordError        --strict: the first bad record, with file and line
├── ReconciliationError   ingest's independent counts do not balance (a record lost or invented)
├── CaseError             a case directory is missing, damaged or of another version
├── ModelError            a model file is missing, damaged or does not fit its card
├── ConfigError           a parameter or policy value is out of range
├── ReviewError           a review step out of order (appeal without a decision, …)
│   └── AuditLogError     the review audit log fails verification (tampered, reordered, cut)
└── AccessDenied          the user is unknown, disabled, or its role may not do this
    └── SignInRequired    the request carries no valid session or token
"""

from __future__ import annotations


class CibwatchError(Exception):
    """Base of every error cibwatch raises on purpose; the CLI prints it and exits non-zero."""

    exit_code = 1


class InputFormatError(CibwatchError):
    pass


class BadRecordError(CibwatchError):
    exit_code = 2

    def __init__(self, source_file: str, line: int | None, reason: str) -> None:
        where = f"{source_file}, line {line}" if line is not None else source_file
        super().__init__(f"{where}: {reason}")
        self.source_file = source_file
        self.line = line
        self.reason = reason

    def __reduce__(self) -> tuple[type[BadRecordError], tuple[str, int | None, str]]:
        # Raised in ingest worker processes: it must cross back to the parent whole.
        return type(self), (self.source_file, self.line, self.reason)


class ReconciliationError(CibwatchError):
    """What an input held and where it went do not add up: something was lost or counted twice."""

    exit_code = 4


class CaseError(CibwatchError):
    pass


class ModelError(CibwatchError):
    pass


class ConfigError(CibwatchError):
    pass


class ReviewError(CibwatchError):
    pass


class AuditLogError(ReviewError):
    exit_code = 3


class AccessDenied(CibwatchError):
    pass


class SignInRequired(AccessDenied):
    pass
