// Build the deck with pptxgenjs: node make_deck.js OUT.pptx TITLE
const pptxgen = require("pptxgenjs");

const [out, title] = process.argv.slice(2);
const deck = new pptxgen();
deck.layout = "LAYOUT_16x9";
deck.addSlide().addText(title, { x: 0.5, y: 2, w: 9, h: 1.5, fontSize: 40, bold: true, color: "1F4E79" });
deck.addSlide().addText(
  [{ text: "Made in the sandbox", options: { bullet: true } },
   { text: "with pptxgenjs", options: { bullet: true } }],
  { x: 0.5, y: 0.5, w: 9, h: 4, fontSize: 24 },
);
deck.writeFile({ fileName: out }).then((written) => {
  console.log(JSON.stringify({ path: written, slides: 2 }));
});
