"""Parameter checks at the engine's boundary: one message per mistake, the same on every path.

The app's sliders and the CLI's argparse types are conveniences, not guards: a raw API call can send
NaN, Infinity, a string or a huge number for any of them. Every public entry point that takes a number
or a choice from a user runs it through these functions, which raise :class:`ParameterError` (a
ValueError, so existing handlers keep working) with a sentence that names the parameter and its range.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


class ParameterError(ValueError):
    """A parameter is of the wrong type or outside its range."""


# The most characters of anything a user sent (a key name, a file name, a member of a zip) quoted in one
# message: a 2 MB key name must not make a 10 MB error.
QUOTE_LIMIT = 200


def shorten(text: Any, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as a string of at most ``limit`` characters (cut in the middle, so both ends show)."""
    text = str(text)
    if len(text) <= limit:
        return text
    keep = max(1, limit - 5)
    return f"{text[: keep - keep // 3]} ... {text[len(text) - keep // 3 :]}"


def _shown(value: Any) -> str:
    """A short, safe rendering of what the user sent (never a long repr or an object's address)."""
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        try:
            return f"{float(value):g}"
        except (OverflowError, ValueError):
            return "a number too large to show"
    return f"a {type(value).__name__}"


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                 integer: bool = False) -> float | int:
    """``value`` as a finite float (or int when ``integer``) within [lo, hi], or a ParameterError.

    Numeric strings are accepted (an API client may send "2"); bools, NaN and infinities are not.
    A float with a fractional part is refused where an integer is expected (2.0 is fine).
    """
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or value is None:
        raise ParameterError(f"{name} must be {kind}, got {_shown(value)}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise ParameterError(f"{name} must be {kind}, got {_shown(value)}") from None
    if not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be {kind}, got {_shown(value)}")
    if isinstance(value, numbers.Integral):
        number: float | int = int(value)
    else:
        number = float(value)
        if not math.isfinite(number):
            raise ParameterError(f"{name} must be a finite number, got {number}")
        if integer:
            if not number.is_integer():
                raise ParameterError(f"{name} must be a whole number, got {number:g}")
            number = int(number)
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        bounds = (f"between {lo:g} and {hi:g}" if lo is not None and hi is not None
                  else f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
        raise ParameterError(f"{name} must be {bounds}, got {_shown(number)}")
    return number


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    return int(check_number(name, value, lo, hi, integer=True))


def check_optional_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int | None:
    """None (or an empty string) stays None; anything else must be an integer in range."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return check_int(name, value, lo, hi)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        raise ParameterError(f"{name} must be one of {', '.join(options)}; got {_shown(value)}")
    return value


def check_flag(name: str, value: Any) -> bool:
    """A real boolean (0/1 and 'true'/'false' accepted, as API clients send them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise ParameterError(f"{name} must be true or false, got {_shown(value)}")


def check_text(name: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"{name} must be text, got {_shown(value)}")
    if len(value) > max_length:
        raise ParameterError(f"{name} is {len(value)} characters long; at most {max_length} are accepted")
    return value
