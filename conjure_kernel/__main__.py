"""``python -m conjure_kernel``: commands go to the CLI, anything else launches the kernel."""

import os
import sys

if __name__ == "__main__":
    # As ipykernel_launcher does: a notebook's folder must not shadow packages (anthropic.py).
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    if len(sys.argv) > 1 and sys.argv[1] in ("install", "skills", "replay", "-h", "--help"):
        from conjure_kernel.cli import main

        sys.exit(main(sys.argv[1:]))
    else:
        from conjure_kernel.notebook.kernel import launch

        launch()
