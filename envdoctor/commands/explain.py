"""``envdoctor explain CODE``: what a finding code means, why it matters, how to fix it."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from envdoctor.codes import CodeDoc, catalogue
from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.safety import quote

# --format json: {"schema": SCHEMA, "codes": [one object a code]}, the same shape for one code or all.
SCHEMA = "envdoctor.codes/1"


def run(args: argparse.Namespace) -> int:
    style = Style(use_color(args.color, sys.stdout))
    codes = catalogue()
    if args.code is not None and args.code.upper() not in codes:
        raise UsageError(f"no code {quote(args.code)}; envdoctor explain lists them")
    # A parser without --format (an older one, a caller's Namespace) means text.
    if getattr(args, "format", "text") == "json":
        chosen = list(codes.values()) if args.code is None else [codes[args.code.upper()]]
        sys.stdout.write(
            json.dumps({"schema": SCHEMA, "codes": [code_to_dict(doc) for doc in chosen]}, indent=2) + "\n"
        )
        return 0
    if args.code is None:
        for doc in codes.values():
            print(f"{style(doc.code, 'bold')}  {doc.category:<22} {doc.severity.label:<8} {doc.title}")
        return 0
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


def code_to_dict(doc: CodeDoc) -> dict[str, Any]:
    return {
        "code": doc.code,
        "category": doc.category,
        "severity": doc.severity.label,
        "title": doc.title,
        "summary": doc.summary,
        "why": doc.why,
        "fix": doc.fix,
    }
