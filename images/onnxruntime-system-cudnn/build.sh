#!/bin/sh
# Build the image the same way every time: timestamps come from SOURCE_DATE_EPOCH (0 unless set),
# so that Python writes hash-based .pyc files and layers carry no build-time dates.
# Behind a proxy with its own CA, give it to pip: PIP_CA=/etc/ssl/certs/ca-certificates.crt ./build.sh
set -eu
cd "$(dirname "$0")"
: "${SOURCE_DATE_EPOCH:=0}"
export SOURCE_DATE_EPOCH
set -- --build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" -t "${IMAGE:-envdoctor/onnxruntime-system-cudnn:1}"
if [ -n "${PIP_CA:-}" ]; then set -- "$@" --secret "id=pip-ca,src=$PIP_CA"; fi
if [ "${BUILDER:-docker}" = buildah ]; then
  buildah bud --timestamp "$SOURCE_DATE_EPOCH" "$@" .
else
  DOCKER_BUILDKIT=1 docker build "$@" .
fi
