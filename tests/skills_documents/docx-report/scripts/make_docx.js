// Build the report with docx-js: node make_docx.js OUT.docx TITLE
const fs = require("fs");
const {
  Document, HeadingLevel, Packer, Paragraph, Table, TableCell, TableRow, WidthType,
} = require("docx");

const [out, title] = process.argv.slice(2);
const items = [["paper", "4"], ["ink", "2"], ["stamps", "10"]];
const cell = (text) => new TableCell({ children: [new Paragraph(text)] });
const table = new Table({
  width: { size: 100, type: WidthType.PERCENTAGE },
  rows: [["item", "quantity"], ...items].map((row) => new TableRow({ children: row.map(cell) })),
});
const doc = new Document({
  sections: [{
    children: [
      new Paragraph({ text: title, heading: HeadingLevel.HEADING_1 }),
      new Paragraph("Written with docx-js in the sandbox."),
      table,
    ],
  }],
});
Packer.toBuffer(doc).then((buffer) => {
  fs.writeFileSync(out, buffer);
  console.log(JSON.stringify({ path: out, bytes: buffer.length }));
});
