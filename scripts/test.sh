#!/usr/bin/env bash
# Set up with the test extras (and Debian's Chromium for the JupyterLab browser test),
# lint, then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install-browser.sh
.venv/bin/ruff check conjure_kernel tests benchmarks notebooks
.venv/bin/ruff format --check conjure_kernel tests benchmarks notebooks
env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN -u ANTHROPIC_BASE_URL \
  .venv/bin/python -m pytest -q "$@"
