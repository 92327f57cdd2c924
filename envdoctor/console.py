"""Colour on terminals, and only there."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing.TextIO only for the checker: importing typing costs start-up time
    from typing import TextIO

COLOR_CHOICES = ("auto", "always", "never")

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


def use_color(choice: str, stream: TextIO) -> bool:
    """``--color`` wins; in ``auto``, NO_COLOR (any non-empty value) or a non-terminal turns colour off."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


class Style:
    """Wraps text in ANSI codes when enabled, else returns it unchanged."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[name] for name in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"
