"""Exceptions shared by the statistics modules."""

from __future__ import annotations


class NotEnoughData(ValueError):
    """The data cannot support this model or test (the message says what is missing)."""
