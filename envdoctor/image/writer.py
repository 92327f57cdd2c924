"""The Dockerfile, .dockerignore and build recipe for a locked environment.

Nothing from the inputs is written into the Dockerfile except values that were checked against
a strict pattern (image references, digests, versions): package names and index URLs stay in the
lockfile, which pip reads inside the build.
"""

from __future__ import annotations

import re

from envdoctor import __version__
from envdoctor.image.plan import BaseImage, BuilderPlan, ImagePlan
from envdoctor.image.record_wheels import RECORD
from envdoctor.kb.facts import container_cuda_floor
from envdoctor.requirements.image_inspect import CUDA_LABEL, LOCK_LABEL

LOCK_NAME = "requirements.lock"
# With packages built from source: the lock cut in two, and the script that records built wheels.
WHEELS_LOCK = "requirements.wheels.lock"
SOURCES_LOCK = "requirements.sources.lock"
RECORD_SCRIPT = "record_wheels.py"
BUILT = "/tmp/built"
VENV = "/opt/venv"
USER_ID = 10001
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9 ._:/@+=,()-]*$")


def _label(value: str) -> str:
    if not _SAFE_LABEL.fullmatch(value):
        raise ValueError(f"unsafe label value {value!r}")
    return '"' + value + '"'


def dockerfile(plan: ImagePlan, lock_digest: str, wheelhouse: bool, builder: BuilderPlan | None = None) -> str:
    base = plan.base
    lines = [
        f"# Written by envdoctor {__version__} (envdoctor dockerfile) from {LOCK_NAME} ({lock_digest}); do not edit.",
        *[f"# {reason}" for reason in plan.reasons],
        *([f"# {builder.reason}"] if builder else []),
        "",
    ]
    interpreter = plan.python_image or (builder.python_image if builder else None)
    if interpreter is not None:
        lines += [f"FROM {interpreter.reference} AS python", ""]
    if builder is not None:
        lines += _wheels_stage(builder, wheelhouse)
    lines += [f"FROM {base.reference} AS build", *_python_from(plan.python_image)]
    lines += [*_pip_environment(), f"RUN python3 -m venv {VENV}"]
    if builder is None:
        lines.append(f"COPY {LOCK_NAME} /tmp/{LOCK_NAME}")
        lines += _pip_steps([_install(f"-r /tmp/{LOCK_NAME}")], wheelhouse)
    else:
        lines += [f"COPY {WHEELS_LOCK} /tmp/{WHEELS_LOCK}", f"COPY --from=wheels {BUILT} {BUILT}"]
        install = _install(f"-r /tmp/{WHEELS_LOCK} -r {BUILT}/{RECORD} --find-links {BUILT}")
        lines += _pip_steps([install], wheelhouse, then=f"cp {BUILT}/{RECORD} {VENV}/{RECORD}")
    lines += ["", f"FROM {base.reference}", *_python_from(plan.python_image), "ARG SOURCE_DATE_EPOCH"]
    labels = {
        "org.opencontainers.image.title": "envdoctor environment",
        "org.opencontainers.image.description": f"Python {plan.python} environment locked by envdoctor",
        "org.opencontainers.image.base.name": base.name,
        "org.opencontainers.image.base.digest": base.digest,
        LOCK_LABEL: lock_digest,
        **({CUDA_LABEL: plan.cuda} if plan.cuda is not None else {}),
        "io.envdoctor.version": __version__,
    }
    lines.append("LABEL " + " \\\n      ".join(f"{key}={_label(value)}" for key, value in labels.items()))
    environment = [f"PATH={VENV}/bin:$PATH", "PYTHONUNBUFFERED=1"]
    if plan.cuda is not None:
        environment += ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"]
        floor = None if plan.python_image is not None else container_cuda_floor(plan.cuda)
        # An nvidia/cuda base asks its own (with the data-center branches it allows): kept. Wheels
        # that bring their CUDA run on the oldest driver of its major, which the runtime is told.
        if floor is not None:
            environment.append(f'NVIDIA_REQUIRE_CUDA="cuda>={floor}"')
    lines.append("ENV " + " \\\n    ".join(environment))
    lines += [f"COPY --from=build {VENV} {VENV}", f"USER {USER_ID}:{USER_ID}", 'CMD ["python3"]', ""]
    return "\n".join(lines)


def _wheels_stage(builder: BuilderPlan, wheelhouse: bool) -> list[str]:
    """Build the locked source archives into wheels (their sdists hash-checked, their build
    requirements installed from the lock), then record the wheels' hashes for the install."""
    build = (
        f"{VENV}/bin/pip wheel --require-hashes --no-deps --no-build-isolation --no-binary=:all: "
        f"-w {BUILT} -r /tmp/{SOURCES_LOCK}"
    )
    record = f"{VENV}/bin/python /tmp/{RECORD_SCRIPT} {BUILT}"
    return [
        f"FROM {builder.image.reference} AS wheels",
        *_python_from(builder.python_image),
        *_pip_environment(),
        f"RUN python3 -m venv {VENV}",
        f"COPY {WHEELS_LOCK} {SOURCES_LOCK} {RECORD_SCRIPT} /tmp/",
        *_pip_steps([_install(f"-r /tmp/{WHEELS_LOCK}"), build], wheelhouse, then=record),
        "",
    ]


def _pip_environment() -> list[str]:
    return ["ARG SOURCE_DATE_EPOCH", "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1"]


def _install(requirements: str) -> str:
    return f"{VENV}/bin/pip install --require-hashes --no-deps --only-binary=:all: {requirements}"


def _pip_steps(commands: list[str], wheelhouse: bool, then: str | None = None) -> list[str]:
    """One RUN for pip commands: from the wheelhouse alone, or from the index with a cache mount
    and, if the build passes one (--secret id=pip-ca,src=...), a proxy's CA for pip alone."""
    if wheelhouse:
        steps = [f"{command} --no-index --find-links /tmp/wheelhouse --no-cache-dir" for command in commands]
        body = " \\\n    && ".join(steps + ([then] if then else []))
        return ["COPY wheelhouse /tmp/wheelhouse", f"RUN {body}"]
    body = " \\\n    && ".join(commands + ([then] if then else []))
    return [
        "RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=pip-ca,required=false \\",
        "    if [ -f /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi; \\",
        f"    {body}",
    ]


# The standard-library modules that load a shared library of the system (OpenSSL, libffi, SQLite,
# liblzma, libbz2, zlib, libuuid, expat): the ones an environment needs that can be missing.
_SYSTEM_LIBRARY_MODULES = "bz2, ctypes, decimal, hashlib, lzma, pyexpat, sqlite3, ssl, uuid, venv, zlib"


def _python_from(python_image: BaseImage | None) -> list[str]:
    """A CUDA image carries no Python: the interpreter comes from the official Python image, built
    on Debian. Each build checks, on the real base, that its modules find their libraries there
    (images/README.md says what was proved where): a base without them fails here, naming the
    module, not when the image runs. -B writes no bytecode, so the layer stays reproducible."""
    if python_image is None:
        return []
    return [
        "COPY --from=python /usr/local /usr/local",
        f'RUN ldconfig && python3 -B -I -c "import {_SYSTEM_LIBRARY_MODULES}"',
    ]


def dockerignore(builder: bool = False) -> str:
    sources = [f"!{WHEELS_LOCK}", f"!{SOURCES_LOCK}", f"!{RECORD_SCRIPT}"] if builder else []
    return "\n".join(
        ["# Only the lockfile (and a wheelhouse) go into the build.", "*", f"!{LOCK_NAME}", *sources, "!wheelhouse", ""]
    )


def build_recipe(tag: str) -> str:
    return "\n".join(
        [
            "#!/bin/sh",
            "# Build the image the same way every time: timestamps come from SOURCE_DATE_EPOCH (0 unless set),",
            "# so that Python writes hash-based .pyc files and layers carry no build-time dates.",
            "# Behind a proxy with its own CA, give it to pip: PIP_CA=/etc/ssl/certs/ca-certificates.crt ./build.sh",
            "set -eu",
            'cd "$(dirname "$0")"',
            ': "${SOURCE_DATE_EPOCH:=0}"',
            "export SOURCE_DATE_EPOCH",
            'set -- --build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" -t "${IMAGE:-' + tag + '}"',
            'if [ -n "${PIP_CA:-}" ]; then set -- "$@" --secret "id=pip-ca,src=$PIP_CA"; fi',
            'if [ "${BUILDER:-docker}" = buildah ]; then',
            '  buildah bud --timestamp "$SOURCE_DATE_EPOCH" "$@" .',
            "else",
            '  DOCKER_BUILDKIT=1 docker build "$@" .',
            "fi",
            "",
        ]
    )
