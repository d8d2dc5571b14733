"""Logging filters used by ``settings.LOGGING``."""

import logging

# Statuses that answer the request as designed: worth a line in the log, not a traceback.
EXPECTED_STATUSES = frozenset({403, 404})


class ExpectedErrorsWithoutTraceback(logging.Filter):
    """``django.request`` logs a refused request (403) with the PermissionDenied traceback, which
    says nothing an operator can act on; keep the line ("Forbidden (Permission denied): /x/")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in EXPECTED_STATUSES and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
