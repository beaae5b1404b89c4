"""cibwatch: find social bots and coordinated influence operations, with the evidence."""

from cibwatch.errors import CibwatchError
from cibwatch.store.case import Case, open_case

__version__ = "0.1.0"

__all__ = ["Case", "CibwatchError", "__version__", "open_case"]
