"""``envdoctor explain CODE``: what a finding code means, why it matters, how to fix it."""

from __future__ import annotations

import argparse
import sys
import textwrap

from envdoctor.codes import catalogue
from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError


def run(args: argparse.Namespace) -> int:
    style = Style(use_color(args.color, sys.stdout))
    codes = catalogue()
    if args.code is None:
        for doc in codes.values():
            print(f"{style(doc.code, 'bold')}  {doc.category:<22} {doc.severity.label:<8} {doc.title}")
        return 0
    if args.code.upper() not in codes:
        raise UsageError(f"no code {args.code!r}; envdoctor explain lists them")
    doc = codes[args.code.upper()]
    wrap = textwrap.TextWrapper(width=88, initial_indent="  ", subsequent_indent="  ")
    print(f"{style(doc.code, 'bold')} {doc.category} ({doc.severity.label} by default): {doc.title}")
    print()
    print(wrap.fill(doc.summary))
    print()
    print(style("Why it matters", "bold"))
    print(wrap.fill(doc.why))
    print()
    print(style("How to fix it", "bold"))
    print(wrap.fill(doc.fix))
    return 0
