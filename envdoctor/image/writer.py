"""The Dockerfile, .dockerignore and build recipe for a locked environment.

Nothing from the inputs is written into the Dockerfile except values that were checked against
a strict pattern (image references, digests, versions): package names and index URLs stay in the
lockfile, which pip reads inside the build.
"""

from __future__ import annotations

import re

from envdoctor import __version__
from envdoctor.image.plan import ImagePlan

LOCK_NAME = "requirements.lock"
VENV = "/opt/venv"
USER_ID = 10001
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9 ._:/@+=,()-]*$")


def _label(value: str) -> str:
    if not _SAFE_LABEL.match(value):
        raise ValueError(f"unsafe label value {value!r}")
    return '"' + value + '"'


def dockerfile(plan: ImagePlan, lock_digest: str, wheelhouse: bool) -> str:
    base = plan.base
    lines = [
        f"# Written by envdoctor {__version__} (envdoctor dockerfile) from {LOCK_NAME} ({lock_digest}); do not edit.",
        *[f"# {reason}" for reason in plan.reasons],
        "",
    ]
    if plan.python_image is not None:
        lines += [f"FROM {plan.python_image.reference} AS python", ""]
    lines += [f"FROM {base.reference} AS build", *_python_from_image(plan)]
    lines += [
        "ARG SOURCE_DATE_EPOCH",
        "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1",
        f"RUN python3 -m venv {VENV}",
        f"COPY {LOCK_NAME} /tmp/{LOCK_NAME}",
    ]
    install = f"{VENV}/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /tmp/{LOCK_NAME}"
    if wheelhouse:
        lines.append("COPY wheelhouse /tmp/wheelhouse")
        lines.append(f"RUN {install} --no-index --find-links /tmp/wheelhouse --no-cache-dir")
    else:
        # A proxy's CA, if the build passes one (--secret id=pip-ca,src=...), for pip alone.
        lines += [
            "RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=pip-ca,required=false \\",
            "    if [ -f /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi; \\",
            f"    {install}",
        ]
    lines += ["", f"FROM {base.reference}", *_python_from_image(plan), "ARG SOURCE_DATE_EPOCH"]
    labels = {
        "org.opencontainers.image.title": "envdoctor environment",
        "org.opencontainers.image.description": f"Python {plan.python} environment locked by envdoctor",
        "org.opencontainers.image.base.name": base.name,
        "org.opencontainers.image.base.digest": base.digest,
        "io.envdoctor.lock.digest": lock_digest,
        "io.envdoctor.version": __version__,
    }
    lines.append("LABEL " + " \\\n      ".join(f"{key}={_label(value)}" for key, value in labels.items()))
    environment = [f"PATH={VENV}/bin:$PATH", "PYTHONUNBUFFERED=1"]
    if plan.cuda is not None:
        environment += [
            "NVIDIA_VISIBLE_DEVICES=all",
            "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
            f'NVIDIA_REQUIRE_CUDA="cuda>={plan.cuda}"',
        ]
    lines.append("ENV " + " \\\n    ".join(environment))
    lines += [f"COPY --from=build {VENV} {VENV}", f"USER {USER_ID}:{USER_ID}", 'CMD ["python3"]', ""]
    return "\n".join(lines)


def _python_from_image(plan: ImagePlan) -> list[str]:
    """A CUDA base carries no Python: the interpreter comes from the official Python image."""
    if plan.python_image is None:
        return []
    return ["COPY --from=python /usr/local /usr/local", "RUN ldconfig"]


def dockerignore() -> str:
    return "\n".join(
        ["# Only the lockfile (and a wheelhouse) go into the build.", "*", f"!{LOCK_NAME}", "!wheelhouse", ""]
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
