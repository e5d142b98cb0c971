"""Write a small budget workbook whose totals are formulas (saved without their values)."""

import sys

import openpyxl

ITEMS = [("paper", 4, 2.5), ("ink", 2, 19.0), ("stamps", 10, 1.2)]


def main(path: str) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget"
    sheet.append(["item", "quantity", "price", "cost"])
    for row, (item, quantity, price) in enumerate(ITEMS, start=2):
        sheet.append([item, quantity, price, f"=B{row}*C{row}"])
    last = len(ITEMS) + 1
    sheet[f"C{last + 1}"] = "total"
    sheet[f"D{last + 1}"] = f"=SUM(D2:D{last})"
    summary = book.create_sheet("Summary")
    summary["A1"] = "with tax"
    summary["B1"] = f"=ROUND(Budget!D{last + 1}*1.2,2)"
    book.save(path)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1])
