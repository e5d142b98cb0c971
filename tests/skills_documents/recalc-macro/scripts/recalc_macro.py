"""Recalculate a workbook in place through a LibreOffice Basic macro named on the command line.

The macro lives in the Standard library of LibreOffice's user profile (created by a first
headless start when missing). ``soffice`` is given the macro's script URL and the workbook:
it opens the workbook, and the macro, run on that document, calculates, saves and closes
it. Some LibreOffice versions stay running afterwards, so an expired ``timeout`` (124) counts
as success, as in the skills this one imitates; the values read back decide.
"""

import json
import os
import subprocess
import sys

import openpyxl

PROFILE = os.path.expanduser("~/.config/libreoffice/4/user")
LIBRARY = os.path.join(PROFILE, "basic", "Standard")
MACRO_URL = (
    "vnd.sun.star.script:Standard.Module1.RecalculateAndSave?language=Basic&location=application"
)
MODULE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic">
Sub RecalculateAndSave()
  ThisComponent.calculateAll()
  ThisComponent.store()
  ThisComponent.close(True)
End Sub
</script:module>
"""
LIBRARY_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" library:readonly="false" library:passwordprotected="false">
 <library:element library:name="Module1"/>
</library:library>
"""
DIALOG_INDEX = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE library:library PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" library:readonly="false" library:passwordprotected="false"/>
"""


def fail(message: str) -> None:
    print(f"recalc-macro: {message}", file=sys.stderr)
    sys.exit(1)


def install_macro() -> None:
    """Write Module1 into the profile's Standard library, making the profile first."""
    if not os.path.isdir(PROFILE):
        subprocess.run(
            ["timeout", "30", "soffice", "--headless", "--terminate_after_init"],
            capture_output=True,
        )
    os.makedirs(LIBRARY, exist_ok=True)
    with open(os.path.join(LIBRARY, "Module1.xba"), "w") as module:
        module.write(MODULE)
    for name, text in (("script.xlb", LIBRARY_INDEX), ("dialog.xlb", DIALOG_INDEX)):
        path = os.path.join(LIBRARY, name)
        if not os.path.exists(path):
            with open(path, "w") as index:
                index.write(text)


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: recalc_macro.py WORKBOOK")
    path = os.path.abspath(sys.argv[1])
    install_macro()
    command = ["timeout", "30", "soffice", "--headless", "--norestore", MACRO_URL, path]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode not in (0, 124):
        fail(f"LibreOffice failed (status {done.returncode}): {done.stderr.strip()[-500:]}")
    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    found = {
        f"{sheet.title}!{cell.coordinate}": values[sheet.title][cell.coordinate].value
        for sheet in formulas
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    }
    print(json.dumps({"status": done.returncode, "values": found}))
    if not found or None in found.values():
        fail("formulas without values: the workbook was not recalculated")


if __name__ == "__main__":
    main()
