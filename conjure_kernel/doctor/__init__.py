"""The doctor: what skills need (programs, Python modules, npm packages) read from their
files, whether each backend has it, and what would add the rest.

Split from the conversation layer, which it only borrows bash's grammar from: reading a
skill's needs and asking backends about them is a tool of its own, used by
``python -m conjure_kernel doctor`` and ``%skills --check``.
"""

from .report import BACKENDS, check_skills

__all__ = ["BACKENDS", "check_skills"]
