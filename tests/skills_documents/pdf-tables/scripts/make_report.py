"""Make a two-page PDF report with a ruled table on each page (reportlab)."""

import sys

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

TABLES = {
    "Stock": [["item", "quantity"], ["paper", "4"], ["ink", "2"], ["stamps", "10"]],
    "Prices": [["item", "price"], ["paper", "2.50"], ["ink", "19.00"]],
}


def main(out: str) -> None:
    styles = getSampleStyleSheet()
    story = []
    for title, rows in TABLES.items():
        table = Table(rows)
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
        story += [Paragraph(title, styles["Heading1"]), table, PageBreak()]
    SimpleDocTemplate(out, pagesize=A4).build(story[:-1])
    print(out)


if __name__ == "__main__":
    main(sys.argv[1])
