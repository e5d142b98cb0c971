"""An MCP server that never finishes starting, as one stuck on a download or a lock is.

It answers nothing, ignores SIGTERM and keeps a child of its own that does the same, so
giving it up takes the whole tree and the kill. Its arguments (a marker) are on both
command lines, for a test to look for in /proc afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

HOLD = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"

signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", HOLD, *sys.argv[1:]])
time.sleep(3600)
