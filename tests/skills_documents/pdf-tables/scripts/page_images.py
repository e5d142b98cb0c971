"""Render each page of a PDF to a PNG (pdf2image, which runs poppler's pdftoppm)."""

import argparse
import json
import os

from pdf2image import convert_from_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pdf")
    parser.add_argument("folder")
    parser.add_argument("--dpi", type=int, default=50)
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    made = []
    for number, image in enumerate(convert_from_path(args.pdf, dpi=args.dpi), start=1):
        path = os.path.join(args.folder, f"page-{number}.png")
        image.save(path)
        made.append({"path": path, "width": image.width, "height": image.height})
    print(json.dumps(made))


if __name__ == "__main__":
    main()
