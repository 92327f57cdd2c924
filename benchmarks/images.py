"""Build reference stacks of images/ for real and time them: `python benchmarks/images.py [STACK ...]`.

Needs what the image tests need (root, dockerd, debootstrap, docker-registry) and the package index:
the stacks' wheels are downloaded during the build, over the host's network, with the host's CA
bundle given to pip as the build secret the generated Dockerfiles accept. The official Python base
images cannot be pulled on these machines, so each stack is generated again on the tests' local
Debian bookworm base (its Python 3.11), pinned by digest; stacks for another Python, or whose base
is an nvidia/cuda image, are skipped with the reason.

Prints, per stack: the cold build time (no cache), the size of the image Docker reports (unpacked,
base included) and envdoctor's estimate (compressed, for the official base).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envdoctor.cli import main as envdoctor  # noqa: E402
from envdoctor.lock.render import recorded_python  # noqa: E402
from tests.docker_env import docker_env, unavailable  # noqa: E402

CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def buildable(stack: Path) -> str | None:
    """Why a stack cannot be built on the local base, or None."""
    (lock,) = (stack / "lock").glob("requirements.*.txt")
    if recorded_python(lock.read_text(encoding="utf-8")) != "3.11":
        return "locked for another Python than the local base's 3.11"
    if "nvidia/cuda" in (stack / "Dockerfile").read_text(encoding="utf-8"):
        return "its base is an nvidia/cuda image, which cannot be pulled here"
    return None


def generate(stack: Path, out: Path, *base: str) -> str:
    """Write the stack's build context (on ``base`` if given) and return the size estimate printed."""
    (lock,) = (stack / "lock").glob("requirements.*.txt")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = envdoctor(["dockerfile", str(lock), "-o", str(out), "--host", str(stack / "host.json"),
                          *(["--base-image", *base] if base else [])])  # fmt: skip
    if code != 0:
        raise SystemExit(f"{stack.name}: envdoctor dockerfile exited {code}: {printed.getvalue()}")
    estimate = next((line for line in printed.getvalue().splitlines() if line.startswith("estimated size")), "")
    return estimate.removeprefix("estimated size: ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", help="folders of images/ (default: all)")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        print(f"cannot build: {reason}")
        return 2
    stacks = [ROOT / "images" / name for name in args.stacks] or sorted(
        path for path in (ROOT / "images").iterdir() if (path / "host.json").is_file()
    )
    with docker_env() as env, tempfile.TemporaryDirectory(prefix="envdoctor-bench-") as scratch:
        base_size = env.docker("image", "inspect", "--format", "{{.Size}}", env.base).stdout.strip()
        print(f"local base (Debian bookworm, Python 3.11): {int(base_size) / 1e6:,.0f} MB unpacked")
        for stack in stacks:
            skip = buildable(stack)
            if skip:
                print(f"{stack.name:28} skipped: {skip}")
                continue
            context = Path(scratch) / stack.name
            generate(stack, context, env.base)
            # The estimate for the image as generated, on the official base whose size is known.
            estimate = generate(stack, Path(scratch) / f"{stack.name}-official")
            started = time.monotonic()
            built = env.docker("build", "--no-cache", "--network", "host", "--secret", f"id=pip-ca,src={CA_BUNDLE}",
                               "--build-arg", "SOURCE_DATE_EPOCH=0", "-t", f"bench/{stack.name}:1", str(context),
                               timeout=3600)  # fmt: skip
            seconds = time.monotonic() - started
            if built.returncode != 0:
                print(f"{stack.name:28} build failed after {seconds:.0f} s: {built.stderr[-1500:]}")
                continue
            size = env.docker("image", "inspect", "--format", "{{.Size}}", f"bench/{stack.name}:1").stdout.strip()
            print(f"{stack.name:28} built in {seconds:6.1f} s; image {int(size) / 1e6:8,.0f} MB unpacked; "
                  f"estimate {estimate}")  # fmt: skip
            env.docker("image", "rm", f"bench/{stack.name}:1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
