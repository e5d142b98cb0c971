#!/usr/bin/env bash
# Make the docker backend usable here; safe to run again, for CI and for people alike:
#   1. install docker.io and mmdebstrap when missing (apt);
#   2. start dockerd when no engine answers (there may be no service manager, as in CI);
#   3. build the sandbox images offline when they are missing or older than their recipe.
#
#   bash scripts/docker-setup.sh [slim] [full]     (default: both)
#
# Needs the project's venv (bash scripts/setup.sh); PYTHON overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."

variants=("$@")
((${#variants[@]})) || variants=(slim full)
for variant in "${variants[@]}"; do
  [[ "$variant" =~ ^(slim|full)$ ]] || {
    echo "usage: docker-setup.sh [slim] [full]" >&2
    exit 2
  }
done

python=${PYTHON:-.venv/bin/python}
log=${DOCKERD_LOG:-/tmp/conjure-dockerd.log}
export DEBIAN_FRONTEND=noninteractive

say() { echo "docker-setup: $*"; }
die() {
  echo "docker-setup: error: $*" >&2
  exit 1
}

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    need_root="not root and no sudo: run this script as root (or install sudo)"
  fi
fi
as_root() {
  [ -z "${need_root:-}" ] || die "$need_root"
  "${sudo[@]}" "$@"
}

# 1. packages
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  as_root apt-get update -q || true
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}"
fi

# 2. engine
if ! docker info >/dev/null 2>&1; then
  [ -z "${need_root:-}" ] || die "no Docker engine answers, and starting dockerd needs root: $need_root"
  say "no Docker engine answers; starting dockerd (log: $log)"
  as_root setsid dockerd >"$log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "docker-setup: error: dockerd did not answer within 60 s; the end of its log:" >&2
    tail -n 30 "$log" >&2 || true
    if [ "$(id -u)" -ne 0 ]; then
      echo "docker-setup: (not root: is $(id -un) in the docker group?)" >&2
    fi
    exit 1
  fi
fi
say "engine: $(docker version --format 'Docker {{.Server.Version}}' 2>/dev/null || echo up)"

# 3. images
[ -x "$python" ] || die "$python not found: create the venv first (bash scripts/setup.sh)"
for variant in "${variants[@]}"; do
  if "$python" -c '
import sys, docker
from conjure_kernel.backends.docker.images import image_is_current, image_tag
sys.exit(0 if image_is_current(docker.from_env(), image_tag(sys.argv[1])) else 1)
' "$variant"; then
    say "the $variant sandbox image is up to date"
    continue
  fi
  say "building the $variant sandbox image (two to three minutes)"
  if [ "$(id -u)" -eq 0 ]; then
    "$python" -m conjure_kernel docker build --offline --image "$variant"
  else
    # mmdebstrap builds as root; keep this environment's Python and engine.
    as_root env PATH="$PATH" ${DOCKER_HOST:+DOCKER_HOST="$DOCKER_HOST"} \
      "$python" -m conjure_kernel docker build --offline --image "$variant"
  fi
done
