"""Convert an office document to PDF beside it with headless LibreOffice.

Runs under `timeout -k` (LibreOffice's launcher outlives a plain timeout) with a profile of
its own (a LibreOffice already running would take the job and exit at once), into a fresh
folder, so an old PDF is never taken for a new one. A timeout or no PDF is a failure.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pypdf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("document")
    parser.add_argument("--timeout", type=int, default=120)
    args = parser.parse_args()
    if shutil.which("soffice") is None:
        sys.exit(
            "to_pdf: LibreOffice (soffice) is not installed; on the docker backend use image=full"
        )
    name = os.path.splitext(os.path.basename(args.document))[0] + ".pdf"
    target = os.path.join(os.path.dirname(os.path.abspath(args.document)), name)
    with tempfile.TemporaryDirectory(prefix="to-pdf-") as work:
        done = subprocess.run(
            [
                "timeout",
                "-k",
                "5",
                str(args.timeout),
                "soffice",
                f"-env:UserInstallation=file://{work}/profile",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                work,
                args.document,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode in (124, 137):
            sys.exit(f"to_pdf: LibreOffice did not finish within {args.timeout} s")
        made = os.path.join(work, name)
        if done.returncode != 0 or not os.path.exists(made):
            sys.exit(f"to_pdf: LibreOffice failed (status {done.returncode}): {done.stderr[-500:]}")
        shutil.copyfile(made, target)
    print(json.dumps({"path": target, "pages": len(pypdf.PdfReader(target).pages)}))


if __name__ == "__main__":
    main()
