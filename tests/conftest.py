"""Shared test setup.

Its presence alone puts ``tests/`` on ``sys.path`` (pytest's default "prepend" import
mode), so any test module can ``from fakeapi import FakeMessagesAPI, replies``.
"""

import os
import tempfile

# Kernels started by the tests keep their IPython history and config in a throwaway
# folder, so results do not depend on (or pollute) the user's ~/.ipython.
os.environ["IPYTHONDIR"] = tempfile.mkdtemp(prefix="conjure-ipython-")
