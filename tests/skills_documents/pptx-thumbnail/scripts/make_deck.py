"""Build the deck with python-pptx: python make_deck.py OUT.pptx TITLE"""

import json
import sys

import pptx


def main(out: str, title: str) -> None:
    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = title
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Points"
    body = second.placeholders[1].text_frame
    body.text = "Made in the sandbox"
    body.add_paragraph().text = "with python-pptx"
    deck.save(out)
    print(json.dumps({"path": out, "slides": len(deck.slides)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
