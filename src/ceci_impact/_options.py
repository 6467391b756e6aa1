"""Run-time checking of ``Literal`` options and a user-facing error type."""

from __future__ import annotations

from typing import Any, get_args


class CeciError(ValueError):
    """An error caused by user input: printed as one line, without a traceback, by the CLI."""


def check_option(name: str, value: Any, literal: Any) -> Any:
    """Check that ``value`` is one of the values allowed by the ``Literal`` type ``literal``.

    Parameters
    ----------
    name
        Parameter name, used in the error message.
    value
        The value given by the user.
    literal
        A ``typing.Literal[...]`` type.

    Returns
    -------
    The value, unchanged.

    Raises
    ------
    CeciError
        If ``value`` is not allowed; the message lists the allowed values.
    """
    allowed = get_args(literal)
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise CeciError(f"{name}={value!r} is not allowed; expected one of {shown}")
    return value
