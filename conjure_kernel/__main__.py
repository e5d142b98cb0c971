"""``python -m conjure_kernel``: the command line (``kernel`` starts the kernel itself)."""

import os
import sys

if __name__ == "__main__":
    # As ipykernel_launcher does: a notebook's folder must not shadow packages (anthropic.py).
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    from conjure_kernel.cli import main

    sys.exit(main())
