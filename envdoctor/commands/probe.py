"""``envdoctor probe``: this machine, a pasted description of another one, or a saved profile."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.fsio import atomic_write_text, read_text_input
from envdoctor.host.profile import HostProfile, apply_overrides, profile_to_json
from envdoctor.host.select import load_hosts, overrides_from_args, select_host

if TYPE_CHECKING:
    from envdoctor.host.fleet import NodeClass


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from_args(args)
    if args.import_file is not None and args.host is not None:
        raise UsageError("--import and --host cannot be used together")
    if args.import_file is not None:
        from envdoctor.host import fleet
        from envdoctor.host.importers import import_host

        source = "<stdin>" if args.import_file == "-" else args.import_file
        text = read_text_input(args.import_file)
        if fleet.is_node_list(text):
            classes = fleet.classes_from_node_list(text, source)
            classes = [item._replace(profile=apply_overrides(item.profile, overrides)) for item in classes]
            return _write(args, _fleet_text(args, classes))
        profile: HostProfile = apply_overrides(import_host(text, source), overrides)
    elif args.host is not None:
        hosts = load_hosts(args.host)
        if hosts[0][1].nodes:  # a cluster's node classes
            from envdoctor.host.fleet import NodeClass

            return _write(args, _fleet_text(args, [NodeClass(n, apply_overrides(p, overrides)) for n, p in hosts]))
        profile = apply_overrides(hosts[0][1], overrides)
    else:
        profile = select_host(None, overrides)
    if args.format == "json":
        text = profile_to_json(profile)
    else:
        from envdoctor.host.render import render_text

        color = args.output is None and use_color(args.color, sys.stdout)
        text = render_text(profile, Style(color))
    return _write(args, text)


def _fleet_text(args: argparse.Namespace, classes: list[NodeClass]) -> str:
    """A cluster's node classes: the fleet file (--format json), or a line each."""
    from envdoctor.host import fleet
    from envdoctor.safety import printable

    if args.format == "json":
        return fleet.fleet_to_json(classes)
    total = sum(len(item.profile.nodes) for item in classes)
    lines = [f"{len(classes)} node class(es), {fleet.nodes_counted(total)}:"]
    lines += [f"  {printable(fleet.summary_line(item))}" for item in classes]
    return "\n".join(lines) + "\n"


def _write(args: argparse.Namespace, text: str) -> int:
    if args.output is not None:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
