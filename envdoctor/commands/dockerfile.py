"""``envdoctor dockerfile``: a slim, digest-pinned, hash-locked image for a locked environment."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from envdoctor.console import Style, use_color
from envdoctor.errors import Refused
from envdoctor.host.select import hosts_from_args
from envdoctor.image.context import DEFAULT_TAG, BuildContext, ImageOptions, write_build_context
from envdoctor.safety import json_text, printable

SCHEMA = "envdoctor.dockerfile/1"


def run(args: argparse.Namespace) -> int:
    style = Style(use_color(args.color, sys.stdout))
    # Without a target, the image is judged for no host in particular: this machine is not probed.
    hosts = hosts_from_args(args, (), this_machine=False)
    options = ImageOptions(
        base_image=args.base_image,
        builder_image=args.builder_image,
        wheelhouse=Path(args.wheelhouse) if args.wheelhouse else None,
        tag=args.tag or DEFAULT_TAG,
        python=args.python,
        placement=args.k8s,
    )
    try:
        context = write_build_context(args.inputs, hosts, Path(args.output_dir), options)
    except Refused as refused:
        return _refused(args, style, refused.reasons)
    if args.format == "json":
        sys.stdout.write(_json(context))
        return 0
    print(f"wrote {printable(str(context.output_dir / 'Dockerfile'))} (base {context.plan.base.name})")
    if context.builder is not None:
        built = ", ".join(sorted(context.builder.names))
        print(f"built from source in a wheels stage on {context.builder.image.name}: {built}")
    for line in context.size:
        print(line)
    if context.placement is not None:
        written = printable(str(context.output_dir / "placement.yaml"))
        print(f"wrote {written}: admits {', '.join(context.placement.admitted)}")
        for name, reason in context.placement.left_out:
            print(f"  leaves out {printable(name)}: {printable(reason)}")
    return 0


def _json(context: BuildContext) -> str:
    document = {
        "schema": SCHEMA,
        "output_dir": printable(str(context.output_dir)),
        "files": [printable(name) for name in context.files],
        "base_image": context.plan.base.name,
        "builder_image": context.builder.image.name if context.builder is not None else None,
        "built_from_source": sorted(context.builder.names) if context.builder is not None else [],
        "size": list(context.size),
        "placement": (
            {
                "admits": list(context.placement.admitted),
                "leaves_out": [{"class": name, "why": why} for name, why in context.placement.left_out],
            }
            if context.placement is not None
            else None
        ),
        "refused": [],
    }
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _refused(args: argparse.Namespace, style: Style, lines: tuple[str, ...]) -> int:
    if args.format == "json":
        document = {"schema": SCHEMA, "files": [], "refused": [printable(line) for line in lines]}
        sys.stdout.write(json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n")
        return 1
    for line in lines:
        print(f"{style('refused', 'red', 'bold')}: {printable(line)}")
    return 1
