"""guards: the limits every entry point goes through.

Owns the limits and their settings (limits.py: pixels, frames, file sizes, checkpoint sizes, time), the
cooperative stop of long work (cancel.py: deadline, cancel, client gone) and parameter checks with one
sentence per mistake (validate.py). The cost estimate that decides whether a request may run is
analysis/budget.py.

May import: nothing from restorers (a leaf that everyone may use).
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {
    "LimitError": "limits", "MAX_FPS": "limits", "MIN_FPS": "limits", "max_upload_bytes": "limits",
    "setting": "limits",
    "ParameterError": "validate", "check_int": "validate", "check_number": "validate", "shorten": "validate",
    "check_flag": "validate",
    "Cancelled": "cancel",
})
