"""The command line: parse arguments, run one command, map the outcome to an exit code.

Parsers are built here; each command's code is imported only when that command runs, so that
``envdoctor --version`` and ``--help`` start fast.
"""

from __future__ import annotations

import functools
import importlib
import sys

from envdoctor import __version__
from envdoctor.errors import EnvdoctorError
from envdoctor.seams import INPUT_KINDS, REPORT_FORMATS, RESOLVERS

# typing.TYPE_CHECKING, without importing typing: ``envdoctor --version`` imports nothing it does
# not print (argparse, typing and the console module are imported when a parser is built).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
# A bug in envdoctor: never 1, which CI reads as findings.
EXIT_INTERNAL = 3


@functools.cache
def _parser() -> type[argparse.ArgumentParser]:
    """argparse's parser, with its usage errors on one line and exit code 2; defined on first use,
    so that importing this module does not import argparse."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")

    return _Parser


def add_host_options(parser: argparse.ArgumentParser, several: bool = False) -> None:
    group = parser.add_argument_group(
        "host", "describe the target host; with any of these, facts not given stay unknown"
    )
    if several:
        group.add_argument(
            "--host",
            metavar="FILE",
            action="append",
            help="a saved host profile (envdoctor probe --format json), or a cluster: a fleet file or kubectl get "
            "nodes -o json|yaml, one host per node class; repeat to audit against several",
        )
    else:
        group.add_argument("--host", metavar="FILE", help="a saved host profile (envdoctor probe --format json)")
    group.add_argument(
        "--driver",
        metavar="VERSION",
        help="NVIDIA driver version, e.g. 535.104.05; without --cuda, the knowledge base says which CUDA it supports",
    )
    group.add_argument("--cuda", metavar="VERSION", help="highest CUDA version the driver supports, e.g. 12.2")
    group.add_argument(
        "--gpu",
        metavar="GPU",
        action="append",
        help="a GPU's compute capability (8.6) or model name (A100, 'RTX 4090'); repeat for each GPU",
    )
    group.add_argument("--no-gpu", action="store_true", help="the host has no usable NVIDIA driver (nor GPU)")
    group.add_argument("--os", help="linux, macos or windows")
    group.add_argument("--arch", help="x86_64, aarch64 or arm64")
    group.add_argument("--python", metavar="VERSION", help="Python version, e.g. 3.11")
    group.add_argument("--wsl", metavar="N", help="0 (not WSL), 1 or 2")


COMMANDS = ("probe", "audit", "lock", "dockerfile", "capture", "explain", "kb")


def build_parser(arguments: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; given the arguments, only the command they name is built whole (the others
    keep their line in --help): building every command's options costs most of a hook's start."""
    from envdoctor.console import COLOR_CHOICES

    parser = _parser()(
        prog="envdoctor",
        description="An environment and dependency doctor for machine-learning Python projects.",
    )
    parser.add_argument("--version", action="version", version=f"envdoctor {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_parser())
    # The first argument that names a command is the command: no global option takes one as its value.
    wanted = next((argument for argument in arguments if argument in COMMANDS), None)
    adding = commands if wanted is None else _OnlyCommand(commands, wanted)
    for add in (_add_probe, _add_audit, _add_lock, _add_dockerfile, _add_capture, _add_explain, _add_kb):
        add(adding)  # type: ignore[arg-type]  # _OnlyCommand stands in for the subparsers action
    _add_global_options(parser, COLOR_CHOICES)
    return parser


class _OnlyCommand:
    """The subparsers action as the ``_add_*`` functions see it when one command is run: that one
    is built whole; any other gets its name and help line, and its options go nowhere."""

    def __init__(self, commands: argparse._SubParsersAction[argparse.ArgumentParser], wanted: str) -> None:
        self.commands = commands
        self.wanted = wanted

    def add_parser(self, name: str, **options: object) -> object:
        if name == self.wanted:
            return self.commands.add_parser(name, **options)  # type: ignore[arg-type]
        self.commands.add_parser(name, help=options.get("help"))  # type: ignore[arg-type]
        return _Unbuilt()


class _Unbuilt:
    """A command not being run: whatever is added to it is dropped."""

    def __getattr__(self, _name: str) -> object:
        return self._drop

    def _drop(self, *_: object, **__: object) -> _Unbuilt:
        return self


# The global options, as uv and ruff take them: before or after the command. A command's parser
# gives them its own names (argparse would let its defaults overwrite what was given before the
# command), and ``_merged_global_options`` folds the two together.
_GLOBAL_OPTIONS = ("color", "quiet", "verbose")


def _add_global_options(parser: argparse.ArgumentParser, colors: tuple[str, ...], prefix: str = "") -> None:
    """--color, -q and -v on ``parser`` and, named ``sub_*`` with no default, on every command under it."""
    import argparse

    unset = argparse.SUPPRESS if prefix else None
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--color",
        dest=f"{prefix}color",
        choices=colors,
        default=unset or "auto",
        help="colour the output (default: auto; NO_COLOR is respected)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        dest=f"{prefix}quiet",
        action="store_true",
        default=unset or False,
        help="show no progress on stderr",
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest=f"{prefix}verbose",
        action="count",
        default=unset or 0,
        help="show more on stderr: each command run (uv, pip-compile) and the sources each finding rests on",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):  # aliases share a parser
                _add_global_options(command, colors, "sub_")


def _merged_global_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The global options given before the command and after it, as one: after wins for --color, -v counts add."""
    given = vars(args)
    if "sub_color" in given:
        args.color = given.pop("sub_color")
    args.quiet = bool(args.quiet or given.pop("sub_quiet", False))
    args.verbose = int(args.verbose) + int(given.pop("sub_verbose", 0))
    if args.quiet and args.verbose:
        parser.error("-q and -v cannot be used together")


def _add_probe(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    probe = commands.add_parser(
        "probe",
        help="describe this host (driver, CUDA, GPUs, OS, libc, Python) or import another's",
        description="Describe this machine as a host profile, or build one from text copied from another "
        "machine (--import) or a saved profile (--host). Host flags override single facts.",
    )
    probe.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE",
        help="build the profile from pasted nvidia-smi, /proc/driver/nvidia/version, collect_env or "
        "Kubernetes node text (kubectl get nodes -o json|yaml: several nodes are grouped into node classes, a "
        "fleet file with --format json); - reads standard input",
    )
    probe.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    probe.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of standard output")
    add_host_options(probe)
    probe.set_defaults(handler="envdoctor.commands.probe")


def _add_source_options(parser: argparse.ArgumentParser, files_help: str) -> None:
    """The requirement sources of a command and how to read them (audit and lock share them)."""
    parser.add_argument("files", nargs="*", metavar="FILE", help=files_help)
    parser.add_argument("--kind", choices=tuple(INPUT_KINDS), help="the kind of every FILE")
    parser.add_argument("--extra", action="append", metavar="NAME", help="a pyproject optional-dependencies group")
    parser.add_argument("--group", action="append", metavar="NAME", help="a pyproject dependency group (PEP 735)")
    parser.add_argument(
        "--no-group", action="append", metavar="NAME", help="leave out a dependency group, as uv sync --no-group"
    )
    parser.add_argument("--no-dev", action="store_true", help="leave out the dev group, as uv sync --no-dev")
    parser.add_argument(
        "--no-default-groups",
        action="store_true",
        help="apply no default group of a uv project (dev, or tool.uv.default-groups), as uv sync --no-default-groups",
    )


def _add_audit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser(
        "audit",
        help="say what will break on a host, why, and the exact fix",
        description="Check a requirement set against a host and the knowledge base. Files are requirements "
        "files, pyproject.toml, uv.lock, poetry.lock, pylock.toml, conda environment files and lists, "
        "Dockerfiles, model files, Kubernetes workloads or docker image inspect output (by name or content, "
        "or --kind); with none, the usual files of the current folder.",
    )
    _add_source_options(audit, "requirement sources; - reads a requirements file from stdin")
    audit.add_argument(
        "--target",
        metavar="STAGE",
        help="judge this stage of each Dockerfile (its AS name), as docker build --target STAGE builds it, with the "
        "stages it is built from or copies from; default: the last stage, as docker build (when that is FROM "
        "scratch and runs nothing, a cache or file export, a note names the stage that runs)",
    )
    audit.add_argument("--installed", action="store_true", help="audit the live environment of a Python")
    audit.add_argument("--python-executable", metavar="PATH", help="the Python whose environment --installed reads")
    audit.add_argument(
        "--resolve", action="store_true", help="resolve with uv for each host first (needs the package index)"
    )
    audit.add_argument("--format", choices=tuple(REPORT_FORMATS), default="text", help="output format (default: text)")
    audit.add_argument(
        "--fail-on", choices=("error", "warning", "info"), help="exit 1 on findings this severe (default: error)"
    )
    audit.add_argument("--ignore", action="append", metavar="CODE", help="a code or category to leave out; repeatable")
    audit.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE (atomically)")
    fixing = audit.add_mutually_exclusive_group()
    fixing.add_argument(
        "--fix",
        action="store_true",
        help="write the fixes into the requirements files and pyproject.toml they came from, each only if the set "
        "audits clean with it on every host; the report is then of the fixed files",
    )
    fixing.add_argument(
        "--diff",
        action="store_true",
        help="print the unified diff --fix would write and change nothing (exit 1 when there is a diff)",
    )
    add_host_options(audit, several=True)
    audit.set_defaults(handler="envdoctor.commands.audit")


def _add_lock(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lock = commands.add_parser(
        "lock",
        help="hash-pinned lockfiles per target, steered by the knowledge base",
        description="Resolve the requirement set for each target (a host profile or flags; default this machine) "
        "into lockfiles/requirements.<target>.txt and lockfiles/pylock.<target>.toml.",
    )
    _add_source_options(lock, "requirement sources (default: requirements.in)")
    lock.add_argument("--backend", choices=tuple(RESOLVERS), default="uv", help="the resolver (default: uv)")
    lock.add_argument(
        "-o", "--output-dir", default="lockfiles", metavar="DIR", help="where lockfiles go (default: lockfiles)"
    )
    lock.add_argument(
        "--exclude-newer", metavar="DATE", help="ignore releases uploaded after DATE (recorded in the header)"
    )
    lock.add_argument(
        "--upgrade-package", action="append", metavar="NAME", help="let NAME move; others keep their versions"
    )
    lock.add_argument(
        "--check", action="store_true", help="exit 1 if a lockfile no longer matches its inputs (no network)"
    )
    lock.add_argument("--resolve", action="store_true", help="with --check: also re-resolve and report drift")
    lock.add_argument(
        "--pytorch-index",
        default="https://download.pytorch.org/whl",
        metavar="URL",
        help="where the PyTorch builds come from (a mirror; a folder of flat indexes per variant)",
    )
    lock.add_argument(
        "--format",
        choices=tuple(REPORT_FORMATS),
        default="text",
        help="format of findings when locking fails",
    )
    add_host_options(lock, several=True)
    lock.set_defaults(handler="envdoctor.commands.lock")


def _add_dockerfile(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dockerfile = commands.add_parser(
        "dockerfile",
        help="a slim, digest-pinned, hash-locked image for a locked environment",
        description="Write a Dockerfile, .dockerignore and build recipe for an envdoctor lockfile (or for "
        "requirement files, locked first for the target).",
    )
    dockerfile.add_argument(
        "inputs", nargs="+", metavar="LOCK_OR_FILES", help="an envdoctor lockfile, or requirement files"
    )
    dockerfile.add_argument("-o", "--output-dir", required=True, metavar="DIR", help="where the build context goes")
    dockerfile.add_argument("--base-image", metavar="REF@DIGEST", help="your own (mirrored) base, pinned by digest")
    dockerfile.add_argument("--wheelhouse", metavar="DIR", help="install from these wheels; the build needs no network")
    dockerfile.add_argument(
        "--builder-image",
        metavar="REF@DIGEST",
        help="the image that builds locked sdists into wheels, pinned by digest",
    )
    dockerfile.add_argument("--tag", metavar="NAME", help="image name the build recipe uses")
    dockerfile.add_argument(
        "--k8s",
        action="store_true",
        help="also write placement.yaml: the node affinity and GPU request that land the image only on the "
        "node classes of --host (a cluster) that run it",
    )
    dockerfile.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    add_host_options(dockerfile)
    dockerfile.set_defaults(handler="envdoctor.commands.dockerfile")


def _add_capture(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    capture = commands.add_parser(
        "capture",
        help="freeze a working environment into a folder that rebuilds it (lockfiles and a Dockerfile)",
        description="Write the host profile, a requirements.in of the top-level packages, constraints at the "
        "versions installed, hash-pinned lockfiles of exactly those versions, and a Dockerfile that rebuilds "
        "the environment of an interpreter (this one, or --python-executable) for the host.",
    )
    capture.add_argument("-o", "--output-dir", required=True, metavar="DIR", help="where the captured folder goes")
    capture.add_argument(
        "--python-executable", metavar="PY", help="the interpreter whose environment to capture (default: this one)"
    )
    capture.add_argument("--index-url", metavar="URL", help="the index the versions come from (default: PyPI)")
    capture.add_argument("--extra-index-url", metavar="URL", action="append", help="another index; repeat")
    capture.add_argument("--find-links", metavar="DIR", action="append", help="a folder of wheels; repeat")
    capture.add_argument("--no-index", action="store_true", help="only --find-links folders")
    capture.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    add_host_options(capture)
    capture.set_defaults(handler="envdoctor.commands.capture")


def _add_explain(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = commands.add_parser("explain", help="what a finding code means and how to fix it")
    explain.add_argument("code", nargs="?", metavar="CODE", help="a code such as ED101; none lists them all")
    explain.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    explain.set_defaults(handler="envdoctor.commands.explain")


def _add_kb(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = commands.add_parser(
        "kb",
        help="show the knowledge base: topics, rows and the source of every fact",
        description="The compatibility facts envdoctor knows beyond package metadata, each with its source.",
    )
    kb_commands = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True, parser_class=_parser())
    kb_list = kb_commands.add_parser("list", help="topics with row counts, newest date checked and newest release")
    kb_show = kb_commands.add_parser("show", help="rows of a topic, optionally those about KEY, with their sources")
    kb_show.add_argument("topic", metavar="TOPIC")
    kb_show.add_argument("key", metavar="KEY", nargs="?", help="a version, package, variant or model to look for")
    kb_check = kb_commands.add_parser(
        "check", help="validate every row and the agreement between topics (exit 1 on problems)"
    )
    for sub in (kb_list, kb_show, kb_check):
        sub.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    kb.set_defaults(handler="envdoctor.commands.kb", format="text")


def run() -> int:
    """The console command: ``main`` in a process of its own."""
    import gc

    # A command makes its objects at once and then exits: with the default thresholds the collector
    # scans the ever larger heap again and again, for cycles that would die with the process anyway
    # (a tenth of a 20,000-line audit, more at 100,000: benchmarks/audit.py).
    gc.set_threshold(100_000, 50, 100)
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--version"]:
        # Answered before the parser is built: version checks run in every hook and CI job.
        print(f"envdoctor {__version__}")
        return EXIT_OK
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    _merged_global_options(parser, args)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from envdoctor import console

    # Progress and -v detail go to stderr; what a command prints on stdout is its output alone.
    shown = console.Feedback(None if args.quiet else sys.stderr, _is_terminal(sys.stderr), args.verbose)
    previous = console.set_feedback(shown)
    try:
        module = importlib.import_module(args.handler)
        code: int = module.run(args)
        return code
    except EnvdoctorError as exc:
        from envdoctor.safety import printable

        # One line, whatever the message quotes: a file name or a value can hold any character.
        print(f"envdoctor: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        import os

        if os.environ.get("ENVDOCTOR_DEBUG"):
            raise
        from envdoctor.safety import snippet

        # The traceback (ENVDOCTOR_DEBUG=1 shows it) would exit 1, which reads as findings.
        print(
            f"envdoctor: internal error: {type(exc).__name__}: {snippet(str(exc), 200)} (a bug in envdoctor: "
            "please report it with the command; ENVDOCTOR_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        console.set_feedback(previous)


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed stream
        return False
