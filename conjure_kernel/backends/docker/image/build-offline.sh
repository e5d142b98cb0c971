#!/usr/bin/env bash
# Build the sandbox image with no registry: the same content as the Dockerfile beside this
# script, made by mmdebstrap from Debian's mirror and loaded with `docker import`.
#
#   build-offline.sh TAG [RECIPE_HASH]
#
# Wheels that Debian lacks are downloaded on the host first (the chroot needs no network
# for them) and installed offline. The image is imported under a temporary tag and tagged
# TAG only once everything succeeded, so a failed build never leaves a half image at TAG.
# Environment: MIRROR (Debian mirror), PYTHON (host python with pip, for `pip download`),
# DOCKER_HOST (engine to import into).
set -euo pipefail

die() {
  echo "build-offline.sh: error: $*" >&2
  exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
  echo "usage: build-offline.sh TAG [RECIPE_HASH]" >&2
  exit 2
fi
tag=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Same hash as conjure_kernel.backends.docker.images.recipe_hash().
recipe=${2:-$(cat "$here/Dockerfile" "$here/build-offline.sh" | sha256sum | cut -c1-12)}
mirror=${MIRROR:-http://deb.debian.org/debian}
python=${PYTHON:-python3}

# Keep both lists in step with the Dockerfile.
DEBIAN_PACKAGES="bash coreutils procps ca-certificates python3 python3-pip python3-venv
python3-pandas python3-openpyxl python3-docx python3-pypdf python3-matplotlib
python3-lxml python3-pil python3-xlsxwriter python3-munkres python3-unicodedata2"
PIP_PACKAGES="python-pptx==1.0.2 typing_extensions==4.16.0"

command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
command -v docker >/dev/null || die "the docker client is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 ||
  die "cannot reach the Docker engine${DOCKER_HOST:+ at $DOCKER_HOST}; start dockerd (bash scripts/docker-setup.sh)"
"$python" -m pip --version >/dev/null 2>&1 ||
  die "$python has no pip to download wheels with; set PYTHON to one that has (or apt-get install python3-pip)"

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/conjure-image.XXXXXX")
temporary="conjure-sandbox-build:tmp-$$-$RANDOM"
cleanup() {
  docker rmi "$temporary" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== downloading wheels: $PIP_PACKAGES"
# Pure-python wheels only, exact pins and no dependency resolution here: Debian provides the
# rest, and the install below fails loudly if anything is missing.
# shellcheck disable=SC2086
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --dest "$work/wheels" $PIP_PACKAGES

echo "== building the root filesystem from $mirror (bookworm)"
# shellcheck disable=SC2016  # "$1" is expanded by mmdebstrap's hook shell, not here
mmdebstrap --variant=minbase --mode=auto \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include="$(echo $DEBIAN_PACKAGES | tr ' ' ',')" \
  --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook="copy-in $work/wheels /tmp" \
  --customize-hook='chroot "$1" python3 -m pip install --isolated --no-index --find-links /tmp/wheels --break-system-packages --no-cache-dir --root-user-action=ignore --disable-pip-version-check '"$PIP_PACKAGES" \
  --customize-hook='chroot "$1" sh -ec "groupadd -g 1000 agent; useradd -m -u 1000 -g 1000 -s /bin/bash agent; mkdir -p /workspace /mnt/skills; chown agent:agent /workspace"' \
  --customize-hook='rm -rf "$1"/tmp/wheels "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
  bookworm "$work/rootfs.tar" "$mirror"

echo "== importing into Docker as $tag (recipe $recipe)"
docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 MPLBACKEND=Agg' \
  -c "LABEL conjure.image-recipe=$recipe" \
  -c 'USER agent' -c 'WORKDIR /workspace' -c 'CMD ["bash"]' \
  -m "conjure sandbox, built offline (recipe $recipe)" \
  "$work/rootfs.tar" "$temporary" >/dev/null

previous=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
docker tag "$temporary" "$tag"
built=$(docker image inspect --format '{{.Id}}' "$tag")
# The image this tag used to name is dropped once nothing else names it; an image that a
# container still uses stays, and rmi says so quietly.
if [ -n "$previous" ] && [ "$previous" != "$built" ] &&
  [ "$(docker image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "== built $tag (${built:7:12}, $((size / 1000000)) MB) in $((SECONDS - started)) s"
