#!/usr/bin/env bash
# Set everything up, then replay the recorded quickstart notebook headless: no API key and
# no network needed. The conversation is printed as it replays; the tools really run
# again, and the report at the end says whether anything drifted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p build
env -u ANTHROPIC_API_KEY -u ANTHROPIC_AUTH_TOKEN \
  .venv/bin/python -m conjure_kernel replay notebooks/quickstart.ipynb --strict \
  --output build/quickstart-replayed.ipynb
echo
echo "The re-run notebook is build/quickstart-replayed.ipynb; open it in JupyterLab with:"
echo "  .venv/bin/jupyter lab build/quickstart-replayed.ipynb"
