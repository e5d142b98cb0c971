"""Print the tables of a PDF as JSON: [{"page": 1, "rows": [[...], ...]}, ...] (pdfplumber)."""

import json
import sys

import pdfplumber


def main(path: str) -> None:
    found = []
    with pdfplumber.open(path) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            found += [{"page": number, "rows": rows} for rows in page.extract_tables()]
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1])
