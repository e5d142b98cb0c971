"""Render one slide of a deck to a PNG: LibreOffice makes a PDF, pdftoppm draws the page.

LibreOffice runs under `timeout -k` with a profile of its own, in a fresh folder; a
timeout or a missing file is a failure.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image


def run(command: list[str], seconds: int) -> None:
    done = subprocess.run(
        ["timeout", "-k", "5", str(seconds), *command], capture_output=True, text=True
    )
    if done.returncode in (124, 137):
        sys.exit(f"thumbnail: {command[0]} did not finish within {seconds} s")
    if done.returncode != 0:
        sys.exit(f"thumbnail: {command[0]} failed (status {done.returncode}): {done.stderr[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("deck")
    parser.add_argument("png")
    parser.add_argument("--slide", type=int, default=1)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--timeout", type=int, default=120)
    args = parser.parse_args()
    for program in ("soffice", "pdftoppm"):
        if shutil.which(program) is None:
            sys.exit(f"thumbnail: {program} is not installed; on the docker backend use image=full")
    with tempfile.TemporaryDirectory(prefix="thumbnail-") as work:
        run(
            [
                "soffice",
                f"-env:UserInstallation=file://{work}/profile",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                work,
                args.deck,
            ],
            args.timeout,
        )
        pdf = os.path.join(work, os.path.splitext(os.path.basename(args.deck))[0] + ".pdf")
        if not os.path.exists(pdf):
            sys.exit("thumbnail: LibreOffice made no PDF")
        page = str(args.slide)
        run(
            [
                "pdftoppm",
                "-png",
                "-singlefile",
                "-f",
                page,
                "-l",
                page,
                "-scale-to-x",
                str(args.width),
                "-scale-to-y",
                "-1",
                pdf,
                f"{work}/page",
            ],
            args.timeout,
        )
        shutil.copyfile(f"{work}/page.png", args.png)
    with Image.open(args.png) as image:
        print(json.dumps({"path": args.png, "width": image.width, "height": image.height}))


if __name__ == "__main__":
    main()
