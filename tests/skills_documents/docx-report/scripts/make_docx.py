"""Build the report with python-docx: python make_docx.py OUT.docx TITLE"""

import json
import os
import sys

import docx

ITEMS = [("paper", "4"), ("ink", "2"), ("stamps", "10")]


def main(out: str, title: str) -> None:
    document = docx.Document()
    document.add_heading(title, level=1)
    document.add_paragraph("Written with python-docx in the sandbox.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "item", "quantity"
    for item, quantity in ITEMS:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = item, quantity
    document.save(out)
    print(json.dumps({"path": out, "bytes": os.path.getsize(out)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
