#!/usr/bin/env bash
# Create .venv (if needed), install conjure-kernel into it editable, and install the
# "conjure" kernelspec inside the venv. Pass extras as arguments, e.g. `setup.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
extras=""
if [ "$#" -gt 0 ]; then
  extras="[$(IFS=,; echo "$*")]"
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extras}"
.venv/bin/python -c "import conjure_kernel, anthropic, ipykernel" # fail loudly if the install did not work
.venv/bin/python -m conjure_kernel install --sys-prefix
