"""Fill a PDF form's fields with pypdf: python fill_form.py FORM.pdf VALUES.json OUT.pdf

Text fields take text; a check box takes true or false (its "on" state or /Off). Viewers
are asked to redraw the fields (NeedAppearances), so the values show everywhere.
"""

import json
import sys

from pypdf import PdfReader, PdfWriter


def main(form: str, values_path: str, out: str) -> None:
    with open(values_path) as source:
        values = json.load(source)
    fields = PdfReader(form).get_fields() or {}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        sys.exit(
            f"fill_form: no field named {', '.join(unknown)}; the form has {', '.join(fields)}"
        )
    filled = {}
    for name, value in values.items():
        if fields[name].get("/FT") == "/Btn":
            on = [state for state in fields[name].get("/_States_", []) if state != "/Off"]
            filled[name] = on[0] if value and on else "/Off"
        else:
            filled[name] = str(value)
    writer = PdfWriter(clone_from=form)
    for page in writer.pages:
        writer.update_page_form_field_values(page, filled, auto_regenerate=False)
    writer.set_need_appearances_writer(True)
    writer.write(out)
    print(json.dumps({"path": out, "filled": filled}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
