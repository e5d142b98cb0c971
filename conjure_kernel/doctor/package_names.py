"""What the names in code are called where they are installed from.

An import name is not always its distribution's name (``import docx`` comes from
``python-docx``), a program is not always its package's name (``pdftoppm`` comes from
Debian's ``poppler-utils``), and some programs are everywhere a shell is. The doctor
needs all three to say what a skill needs and what command adds it. The Debian names
are bookworm's (the sandbox images' base), checked with ``apt-cache policy``.
"""

from __future__ import annotations

__all__ = [
    "DEBIAN_PROGRAMS",
    "DEBIAN_PYTHON",
    "EVERYWHERE_PROGRAMS",
    "IMPORT_DISTRIBUTIONS",
    "MINIMUM_VERSIONS",
    "NODE_BUILTINS",
    "distribution_of",
    "import_name_of",
]

IMPORT_DISTRIBUTIONS = {
    "Crypto": "pycryptodome",
    "OpenSSL": "pyOpenSSL",
    "PIL": "Pillow",
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cairo": "pycairo",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "fitz": "PyMuPDF",
    "gi": "PyGObject",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "magic": "python-magic",
    "mpl_toolkits": "matplotlib",
    "multipart": "python-multipart",
    "pdfminer": "pdfminer.six",
    "pkg_resources": "setuptools",
    "pptx": "python-pptx",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "yaml": "PyYAML",
    "zmq": "pyzmq",
}
"""Import names whose distribution (what ``pip install`` takes) is called otherwise."""
_SECONDARY_IMPORTS = frozenset({"mpl_toolkits", "pkg_resources"})
"""Import names that come with a distribution whose main import name is its own."""

DEBIAN_PYTHON = {
    "beautifulsoup4": "python3-bs4",
    "cairosvg": "python3-cairosvg",
    "defusedxml": "python3-defusedxml",
    "imageio": "python3-imageio",
    "jinja2": "python3-jinja2",
    "lxml": "python3-lxml",
    "markdown": "python3-markdown",
    "matplotlib": "python3-matplotlib",
    "numpy": "python3-numpy",
    "openpyxl": "python3-openpyxl",
    "pandas": "python3-pandas",
    "pdfminer.six": "python3-pdfminer",
    "pillow": "python3-pil",
    "pymupdf": "python3-fitz",
    "python-docx": "python3-docx",
    "pyyaml": "python3-yaml",
    "reportlab": "python3-reportlab",
    "requests": "python3-requests",
    "scikit-image": "python3-skimage",
    "scikit-learn": "python3-sklearn",
    "scipy": "python3-scipy",
    "xlsxwriter": "python3-xlsxwriter",
}
"""Distributions (lower case) Debian packages new enough for skills; pypdf is left out
because bookworm's 3.4 lacks what form scripts use, and python-pptx, pdfplumber,
pdf2image and markitdown are not in Debian."""

MINIMUM_VERSIONS = {"pypdf": (5, "form scripts use get_inherited and pypdf.annotations")}
"""Distributions (lower case) whose older releases break skills: the major version they
need, and why."""

DEBIAN_PROGRAMS = {
    "chromium": "chromium",
    "convert": "imagemagick",
    "curl": "curl",
    "ffmpeg": "ffmpeg",
    "ffprobe": "ffmpeg",
    "file": "file",
    "gcc": "gcc",
    "git": "git",
    "gs": "ghostscript",
    "identify": "imagemagick",
    "java": "default-jre-headless",
    "jq": "jq",
    "libreoffice": "libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui",
    "make": "make",
    "magick": "imagemagick",
    "node": "nodejs",
    "nodejs": "nodejs",
    "npm": "npm",
    "npx": "npm",
    "pandoc": "pandoc",
    "pdfimages": "poppler-utils",
    "pdfinfo": "poppler-utils",
    "pdftocairo": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "pdftotext": "poppler-utils",
    "pip": "python3-pip",
    "pip3": "python3-pip",
    "python": "python-is-python3",
    "python3": "python3",
    "qpdf": "qpdf",
    "rsvg-convert": "librsvg2-bin",
    "soffice": "libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui",
    "tesseract": "tesseract-ocr",
    "unzip": "unzip",
    "wget": "wget",
    "zip": "zip",
}
"""Programs and the Debian packages that install them."""

EVERYWHERE_PROGRAMS = frozenset(
    {
        ".",
        ":",
        "[",
        "[[",
        "alias",
        "awk",
        "basename",
        "bash",
        "break",
        "builtin",
        "cat",
        "cd",
        "chmod",
        "chown",
        "command",
        "continue",
        "cp",
        "cut",
        "date",
        "declare",
        "dirname",
        "du",
        "echo",
        "env",
        "eval",
        "exec",
        "exit",
        "export",
        "false",
        "find",
        "grep",
        "gunzip",
        "gzip",
        "head",
        "id",
        "kill",
        "ln",
        "local",
        "ls",
        "mkdir",
        "mktemp",
        "mv",
        "nproc",
        "popd",
        "printf",
        "ps",
        "pushd",
        "pwd",
        "read",
        "readlink",
        "realpath",
        "return",
        "rm",
        "rmdir",
        "sed",
        "seq",
        "set",
        "sh",
        "shift",
        "sleep",
        "sort",
        "source",
        "stat",
        "tail",
        "tar",
        "tee",
        "test",
        "time",
        "timeout",
        "touch",
        "tr",
        "trap",
        "true",
        "type",
        "uname",
        "uniq",
        "unset",
        "wait",
        "wc",
        "which",
        "xargs",
        "yes",
    }
)
"""Shell builtins and the base system's programs: every backend with a shell has them,
so listing them as needs would only bury the ones that matter."""

NODE_BUILTINS = frozenset(
    {
        "assert",
        "async_hooks",
        "buffer",
        "child_process",
        "cluster",
        "console",
        "constants",
        "crypto",
        "dgram",
        "diagnostics_channel",
        "dns",
        "domain",
        "events",
        "fs",
        "http",
        "http2",
        "https",
        "inspector",
        "module",
        "net",
        "os",
        "path",
        "perf_hooks",
        "process",
        "punycode",
        "querystring",
        "readline",
        "repl",
        "stream",
        "string_decoder",
        "sys",
        "timers",
        "tls",
        "trace_events",
        "tty",
        "url",
        "util",
        "v8",
        "vm",
        "wasi",
        "worker_threads",
        "zlib",
    }
)
"""Node's own modules: ``require('fs')`` needs no package."""


def distribution_of(import_name: str) -> str:
    """The distribution ``pip install`` takes for a top-level import name."""
    return IMPORT_DISTRIBUTIONS.get(import_name, import_name)


def import_name_of(distribution: str) -> str:
    """The top-level import name a distribution most likely provides."""
    for name, known in IMPORT_DISTRIBUTIONS.items():
        if known.lower() == distribution.lower() and name not in _SECONDARY_IMPORTS:
            return name
    return distribution.replace("-", "_").replace(".", "_")
