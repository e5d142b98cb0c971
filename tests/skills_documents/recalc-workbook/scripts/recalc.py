"""Recalculate a workbook's formulas with headless LibreOffice, in place, and check it.

LibreOffice opens the file, calculates every formula and saves it again as xlsx
(`--convert-to xlsx`). Its launcher can outlive a plain `timeout`, so the conversion runs
under `timeout -k`, and a run that timed out or left no file is a failure: the workbook
is then left as it was. Afterwards every formula must have a value.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import openpyxl

ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")


def fail(message: str) -> None:
    print(f"recalc: {message}", file=sys.stderr)
    sys.exit(1)


def convert(path: str, seconds: int, out: str) -> str:
    """The recalculated copy of ``path``, made in the folder ``out``."""
    if shutil.which("soffice") is None:
        fail("LibreOffice (soffice) is not installed here; on the docker backend use image=full")
    # a profile of its own: a LibreOffice already running would otherwise take the job
    # and this one would exit at once without converting anything
    profile = f"-env:UserInstallation=file://{out}/profile"
    command = ["soffice", profile, "--headless", "--norestore", "--convert-to", "xlsx"]
    done = subprocess.run(
        ["timeout", "-k", "5", str(seconds), *command, "--outdir", out, path],
        capture_output=True,
        text=True,
    )
    if done.returncode in (124, 137):
        fail(f"LibreOffice did not finish within {seconds} s; the workbook was not recalculated")
    result = os.path.join(out, os.path.splitext(os.path.basename(path))[0] + ".xlsx")
    if done.returncode != 0 or not os.path.exists(result):
        fail(f"LibreOffice failed (status {done.returncode}): {done.stderr.strip()[-500:]}")
    return result


def formulas(path: str) -> list[tuple[str, str]]:
    book = openpyxl.load_workbook(path)
    return [
        (sheet.title, cell.coordinate)
        for sheet in book
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workbook")
    parser.add_argument("--timeout", type=int, default=120)
    args = parser.parse_args()
    cells = formulas(args.workbook)
    with tempfile.TemporaryDirectory(prefix="recalc-") as out:
        result = convert(args.workbook, args.timeout, out)
        values = openpyxl.load_workbook(result, data_only=True)
        found = {f"{sheet}!{cell}": values[sheet][cell].value for sheet, cell in cells}
        missing = [name for name, value in found.items() if value is None]
        if missing:
            fail(f"no value after recalculation for {', '.join(missing)}")
        if len(formulas(result)) != len(cells):
            fail("the recalculated workbook lost formulas; the original was kept")
        shutil.copyfile(result, args.workbook)
    errors = {name: value for name, value in found.items() if value in ERRORS}
    print(json.dumps({"formulas": len(cells), "values": found, "errors": errors}))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
