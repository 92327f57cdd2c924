"""``envdoctor probe``: this machine, a pasted description of another one, or a saved profile."""

from __future__ import annotations

import argparse
import sys

from envdoctor.console import Style, use_color
from envdoctor.errors import UsageError
from envdoctor.fsio import atomic_write_text, read_text_input
from envdoctor.host.profile import HostProfile, apply_overrides, profile_to_json
from envdoctor.host.select import load_profile, overrides_from_args, select_host


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from_args(args)
    if args.import_file is not None and args.host is not None:
        raise UsageError("--import and --host cannot be used together")
    if args.import_file is not None:
        from envdoctor.host.importers import import_host

        source = "<stdin>" if args.import_file == "-" else args.import_file
        profile: HostProfile = apply_overrides(import_host(read_text_input(args.import_file), source), overrides)
    elif args.host is not None:
        profile = apply_overrides(load_profile(args.host), overrides)
    else:
        profile = select_host(None, overrides)
    if args.format == "json":
        text = profile_to_json(profile)
    else:
        from envdoctor.host.render import render_text

        color = args.output is None and use_color(args.color, sys.stdout)
        text = render_text(profile, Style(color))
    if args.output is not None:
        atomic_write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
