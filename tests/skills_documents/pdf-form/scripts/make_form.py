"""Make a one-page fillable form with reportlab: text fields name and city, check box agree."""

import sys

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


def main(out: str) -> None:
    page = canvas.Canvas(out, pagesize=A4)
    page.drawString(72, 780, "Registration")
    for y, label in ((740, "name"), (700, "city")):
        page.drawString(72, y + 6, f"{label.title()}:")
        page.acroForm.textfield(name=label, x=140, y=y, width=240, height=20, forceBorder=True)
    page.drawString(72, 666, "I agree:")
    page.acroForm.checkbox(name="agree", x=140, y=660, size=16, buttonStyle="check")
    page.showPage()
    page.save()
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
