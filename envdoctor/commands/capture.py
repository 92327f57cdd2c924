"""``envdoctor capture``: a working environment frozen into a folder that rebuilds it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envdoctor import api
from envdoctor.errors import UsageError
from envdoctor.host.select import hosts_from_args
from envdoctor.requirements.model import IndexOptions
from envdoctor.safety import json_text, printable

SCHEMA = "envdoctor.capture/1"


def run(args: argparse.Namespace) -> int:
    hosts = hosts_from_args(args, ())
    if len(hosts) != 1:
        raise UsageError("one host for a capture: give one --host (or host flags)")
    index = IndexOptions(
        index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_url or ()),
        find_links=tuple(str(Path(link).resolve()) for link in args.find_links or ()),
        no_index=args.no_index,
    )
    python = args.python_executable or sys.executable
    captured = api.capture(Path(args.output_dir), python=python, host=hosts[0][1], index=index)
    if args.format == "json":
        sys.stdout.write(_json(captured))
    else:
        _text(captured)
    return 1 if captured.lock.unresolved or captured.lock.refused or captured.not_locked else 0


def _text(captured: api.Captured) -> None:
    frozen = captured.frozen
    out = printable(str(frozen.output_dir))
    print(f"captured {len(frozen.pinned)} distribution(s), {len(frozen.top_level)} at the top, into {out}")
    for path in captured.lock.written:
        print(f"wrote {printable(str(path))}")
    for why in captured.lock.refused:
        print(f"refused: {printable(why)}")
    for failure in captured.lock.unresolved:
        for finding in failure.findings:
            print(f"not locked: {printable(finding.message)}")
    if captured.image is not None:
        print(
            f"wrote {printable(str(captured.image.output_dir / 'Dockerfile'))} (base {captured.image.plan.base.name})"
        )
    for why in captured.image_refused:
        print(f"no Dockerfile: {printable(why)}")
    for item in frozen.unpinnable:
        print(f"not captured: {printable(item.name)} {printable(item.version)}, {item.why}")
    for pin in captured.not_locked:
        print(f"not in the lock: {printable(pin)} (installed; the host's markers or the top-level set leave it out)")


def _json(captured: api.Captured) -> str:
    frozen = captured.frozen
    document = {
        "schema": SCHEMA,
        "output_dir": printable(str(frozen.output_dir)),
        "top_level": list(frozen.top_level),
        "pinned": list(frozen.pinned),
        "lockfiles": [printable(str(path)) for path in captured.lock.written],
        "dockerfile": printable(str(captured.image.output_dir / "Dockerfile")) if captured.image else None,
        "not_captured": [{"name": u.name, "version": u.version, "why": u.why} for u in frozen.unpinnable],
        "not_locked": list(captured.not_locked),
        "refused": [printable(why) for why in (*captured.lock.refused, *captured.image_refused)],
    }
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
