"""Whether a process still exists, for what outlives the process that made it (an
unpacked skill's folder, a sandbox container) and must be swept once its owner is gone."""

from __future__ import annotations

import os

__all__ = ["process_exists"]


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists; where that cannot be asked, assume it does.

    Signal 0 asks without signalling on POSIX; on Windows ``os.kill`` would end the
    process instead, so there the answer is always yes and nothing is swept.
    """
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; too big to be a pid
        pass
    return True
