"""The standard Jupyter protocol checks (jupyter_kernel_test) against the conjure kernel."""

from __future__ import annotations

import unittest

import jupyter_kernel_test


class ConjureKernelProtocolTests(jupyter_kernel_test.KernelTests):
    kernel_name = "conjure"
    language_name = "conjure"
    file_extension = ".md"

    code_hello_world = "%%python\nprint('hello, world')"
    code_stderr = "%%python\nimport sys; print('oops', file=sys.stderr)"
    code_page_something = "%%python\nprint?"
    code_generate_error = "%%python\nraise ValueError('boom')"
    code_execute_result = [{"code": "%%python\n6*7", "result": "42"}]
    code_display_data = [
        {
            "code": "%%python\nfrom IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))",
            "mime": "text/html",
        }
    ]
    # "range" is left out: ipykernel 7.4 reports the live session as 0, so the stock python3
    # kernel fails that check too (see jupyter_kernel_test's history test).
    code_history_pattern = "*6[*]7"
    supported_history_operations = ("tail", "search")
    code_clear_output = "%%python\nfrom IPython.display import clear_output\nclear_output()"
    complete_code_samples = ["Hello Claude, how are you?", "%%python\n1 + 1"]
    incomplete_code_samples = ["%%python\ndef f(:\n    pass\nif True:"]
    code_inspect_sample = "print"
    completion_samples = [{"text": "%%python\nimport sysconf", "matches": {"sysconfig"}}]


if __name__ == "__main__":
    unittest.main()
