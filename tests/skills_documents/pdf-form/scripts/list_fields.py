"""Print a PDF form's fields as JSON: name -> kind, value and (check boxes) states."""

import json
import sys

from pypdf import PdfReader


def main(path: str) -> None:
    fields = PdfReader(path).get_fields() or {}
    found = {
        name: {
            "kind": field.get("/FT"),
            "value": field.get("/V"),
            "states": field.get("/_States_", []),
        }
        for name, field in fields.items()
    }
    print(json.dumps(found, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
