#!/usr/bin/env bash
# Set up with the test extras, Debian's Chromium (for the JupyterLab browser test) and a
# Docker engine with the sandbox image (for the docker backend), lint, then run the whole
# test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install-browser.sh
if ! bash scripts/docker-setup.sh; then
  [ "${CONJURE_REQUIRE_DOCKER:-}" != 1 ] || exit 1
  echo "test.sh: no Docker engine here; the docker backend's tests will be skipped" >&2
fi
.venv/bin/ruff check conjure_kernel tests benchmarks notebooks
.venv/bin/ruff format --check conjure_kernel tests benchmarks notebooks
env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_BASE_URL \
  .venv/bin/python -m pytest -q "$@"
