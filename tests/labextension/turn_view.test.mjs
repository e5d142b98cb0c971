// The JupyterLab renderer (labextension/lib/turnView.js, compiled from src/turnView.ts)
// drawn in jsdom on every golden record of tests/golden: it must show exactly the
// labels the record carries (NAME.labels.json, which tests/golden/test_golden.py holds
// the Python renderings to), each read from the element whose data-label names its
// kind, in order; lay out each tool call's state, output runs and fold; link files
// where the record says; and show an older, newer or unreadable record as saved.
//
// Run: node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON --test tests/labextension/turn_view.test.mjs
// (tests/labextension/test_renderer.py runs it under pytest). The compiled module is
// ESM in a package without "type": "module"; node (20.19+) detects that, and the flag
// quiets its warning about it.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const labextension = path.join(root, 'labextension');
const golden = path.join(root, 'tests', 'golden');

const { JSDOM } = createRequire(path.join(labextension, 'package.json'))('jsdom');
globalThis.document = new JSDOM('<!doctype html><body></body>').window.document;
const { renderTurn, SUPPORTED_SCHEMA } = await import(
  pathToFileURL(path.join(labextension, 'lib', 'turnView.js')).href
);

const PREFIX = 'jp-RenderedConjureTurn';
const CONTEXT = { sanitizer: { sanitize: html => html }, markdownParser: null };

const SCENARIOS = readdirSync(golden)
  .filter(name => name.endsWith('.labels.json'))
  .map(name => name.slice(0, -'.labels.json'.length))
  .sort();
const LEGACY = readdirSync(golden)
  .filter(name => name.endsWith('.record.json'))
  .map(name => name.slice(0, -'.record.json'.length))
  .filter(name => !SCENARIOS.includes(name));

function read(name, suffix) {
  return readFileSync(path.join(golden, name + suffix), 'utf-8');
}

const record = name => JSON.parse(read(name, '.record.json'));

/** The rendered turn in a detached element, as the widget's node would hold it. */
async function render(data, plain = '', context = CONTEXT, html = '') {
  const view = await renderTurn(data, plain, context, html);
  const node = document.createElement('div');
  node.append(...view.children);
  return { node, failed: view.failed };
}

/** Every label shown, as [kind, text], in document order. */
const labelsOf = node => [...node.querySelectorAll('[data-label]')].map(el => [el.dataset.label, el.textContent]);

test('there are golden records of every kind to check', () => {
  assert.ok(SCENARIOS.length >= 11, SCENARIOS.join(', '));
  assert.deepEqual(new Set(SCENARIOS.map(name => record(name).schema)), new Set([SUPPORTED_SCHEMA]));
  assert.deepEqual(LEGACY.sort(), ['schema1_quickstart', 'schema2_tool_calls']);
  const kinds = new Set(SCENARIOS.flatMap(name => JSON.parse(read(name, '.labels.json')).map(([kind]) => kind)));
  assert.deepEqual([...kinds].sort(), ['approval', 'error', 'file', 'footer', 'hint', 'more', 'notice', 'problem', 'thinking', 'title']);
});

for (const name of SCENARIOS) {
  test(`${name}: the renderer shows exactly the record's labels`, async () => {
    const data = record(name);
    const { node, failed } = await render(data, read(name, '.txt'));
    // The fallback would show the plain text itself, and so pass for the wrong reason.
    assert.equal(node.querySelector(`.${PREFIX}-notice`), null, 'the record was not readable');
    assert.deepEqual(labelsOf(node), JSON.parse(read(name, '.labels.json')));
    assert.equal(failed, Boolean(data.error));
  });

  test(`${name}: each tool call's row carries its state, where it ran and its output`, async () => {
    const data = record(name);
    const { node } = await render(data);
    const tools = data.timeline.filter(entry => entry.type === 'tool');
    const rows = [...node.querySelectorAll(`.${PREFIX}-toolCall`)];
    assert.deepEqual(
      rows.map(row => [row.dataset.status, row.dataset.server === 'true']),
      tools.map(tool => [tool.state, tool.server])
    );
    assert.deepEqual(
      rows.map(row => [...row.querySelectorAll(`.${PREFIX}-toolResultText`)].map(pre => pre.textContent).join('')),
      tools.map(tool => (tool.labels.output ? tool.labels.output.runs.map(([text]) => text).join('') : tool.result?.content ?? ''))
    );
  });
}

test('coloured output is laid out as its runs, styled by class, with no escape left', async () => {
  const { node } = await render(record('coloured_output'));
  const spans = [...node.querySelectorAll(`.${PREFIX}-toolResultText span`)];
  assert.ok(spans.some(span => span.className === 'ansi-red-fg ansi-bold' && span.textContent === '1 failed'));
  assert.ok(spans.some(span => span.className === 'ansi-green-fg' && span.textContent === '2 passed'));
  assert.ok(node.querySelector(`.${PREFIX}-toolResult`).classList.contains('jp-RenderedText'));
  assert.doesNotMatch(node.textContent, /\x1b/);
});

test('a run whose style is not an ANSI class is shown as plain text', async () => {
  const data = record('coloured_output');
  data.timeline[1].labels.output.runs = [['x', 'jp-mod-error" onclick="y'], ['z', 'ansi-red-fg']];
  const { node } = await render(data);
  const pre = node.querySelector(`.${PREFIX}-toolResultText`);
  assert.deepEqual([...pre.childNodes].map(child => [child.nodeName, child.textContent]), [['#text', 'x'], ['SPAN', 'z']]);
});

test('a 3 MB output shows its first lines, and the rest under "show all"', async () => {
  const data = record('long_output');
  const { node } = await render(data);
  const output = data.timeline[1].labels.output;
  const [first, rest] = node.querySelectorAll(`.${PREFIX}-toolResultText`);
  assert.equal(first.textContent.split('\n').length, 41);
  const more = node.querySelector(`details.${PREFIX}-more`);
  assert.equal(more.open, false);
  assert.equal(more.querySelector('summary').textContent, output.more);
  assert.ok(more.contains(rest));
  assert.equal(first.textContent + rest.textContent, output.runs.map(([text]) => text).join(''));
});

test('a created file links where the record says, an image is shown too, one without a link is text', async () => {
  const data = record('hosted');
  data.timeline.push({ type: 'file', path: '/elsewhere/<b>x</b>.png', tool_use_id: '', labels: { line: 'created /elsewhere/<b>x</b>.png' } });
  // A hostile notebook's links that display.py never writes: shown as text, never followed.
  for (const link of ['javascript:alert(1)', 'https://example.com/x.png', '/etc/passwd', '../up.png', 'a/%2E%2E/b.png', '']) {
    data.timeline.push({ type: 'file', path: 'x.png', tool_use_id: '', labels: { line: `created ${link}`, link, image: true } });
  }
  const { node } = await render(data);
  const files = [...node.querySelectorAll(`.${PREFIX}-file`)];
  assert.deepEqual(
    files.map(file => [
      file.textContent,
      file.querySelector('a')?.getAttribute('href') ?? null,
      file.querySelector('img')?.getAttribute('src') ?? null
    ]),
    [
      ['created /home/me/project/outputs/chart.png', 'outputs/chart.png', 'outputs/chart.png'],
      ['created /home/me/project/outputs/sales summary.csv', 'outputs/sales%20summary.csv', null],
      ['created /elsewhere/<b>x</b>.png', null, null],
      ...['javascript:alert(1)', 'https://example.com/x.png', '/etc/passwd', '../up.png', 'a/%2E%2E/b.png', ''].map(
        link => [`created ${link}`, null, null]
      )
    ]
  );
  assert.equal(node.querySelector('b'), null);
  // The Python HTML links the same files to the same places.
  const html = read('hosted', '.html');
  assert.match(html, /<a href="outputs\/chart.png">.*<img src="outputs\/chart.png"/);
  assert.match(html, /<a href="outputs\/sales%20summary.csv">/);
});

test("with the notebook's resolver, a file links to its download URL and opens in JupyterLab", async () => {
  const handled = [];
  const context = {
    ...CONTEXT,
    resolver: {
      resolveUrl: async url => `work/nb/${url}`,
      getDownloadUrl: async path => `/files/${path}?_xsrf=1`
    },
    linkHandler: { handleLink: (node, path) => handled.push([node.tagName, path]) }
  };
  const { node } = await render(record('hosted'), '', context);
  const file = node.querySelector(`.${PREFIX}-file`);
  assert.equal(file.querySelector('a').getAttribute('href'), '/files/work/nb/outputs/chart.png?_xsrf=1');
  assert.equal(file.querySelector('img').getAttribute('src'), '/files/work/nb/outputs/chart.png?_xsrf=1');
  assert.deepEqual(handled, [
    ['A', 'work/nb/outputs/chart.png'],
    ['A', 'work/nb/outputs/sales summary.csv']
  ]);
});

test('the footer lays out its parts apart, and reads as one line', async () => {
  const data = record('replayed');
  const { node } = await render(data);
  const footer = node.querySelector(`.${PREFIX}-footer`);
  assert.deepEqual([...footer.querySelectorAll(`:scope > span:not(.${PREFIX}-separator)`)].map(span => span.textContent), data.labels.footer);
  assert.equal(footer.textContent, data.labels.footer.join(' · '));
});

test('the comparison notices a label the renderer does not show', async () => {
  const data = record('hosted');
  data.timeline = data.timeline.filter(entry => entry.type !== 'notice');
  const { node } = await render(data);
  assert.notDeepEqual(labelsOf(node), JSON.parse(read('hosted', '.labels.json')));
});

for (const name of LEGACY) {
  test(`${name}: an older record, which has no labels, shows the HTML saved with it`, async () => {
    const html = read(name, '.html');
    const { node } = await render(record(name), read(name, '.txt'), CONTEXT, html);
    assert.match(node.querySelector(`.${PREFIX}-notice`).textContent, /older conjure-kernel/);
    assert.equal(node.querySelector('.jp-RenderedHTMLCommon').innerHTML.length > 0, true);
    assert.equal(node.querySelector(`.${PREFIX}-toolCall`), null);
  });
}

test('an older record without saved HTML shows its plain text', async () => {
  const { node } = await render(record('schema2_tool_calls'), 'the plain text');
  assert.equal(node.querySelector(`.${PREFIX}-fallback`).textContent, 'the plain text');
});

test('a record of a newer schema shows a notice and the plain text', async () => {
  const data = { ...record('tool_calls'), schema: SUPPORTED_SCHEMA + 1 };
  const { node } = await render(data, 'the plain text');
  assert.match(node.textContent, /upgrade conjure-kernel/);
  assert.equal(node.querySelector(`.${PREFIX}-fallback`).textContent, 'the plain text');
});

test('a timeline entry of an unknown type makes the record unreadable, not half drawn', async () => {
  const data = record('tool_calls');
  data.timeline.push({ type: 'hologram' });
  const { node } = await render(data, 'the plain text');
  assert.match(node.textContent, /could not be read \(a timeline entry has an unknown type\)/);
});

test('an entry without its labels makes the record unreadable', async () => {
  const data = record('tool_calls');
  delete data.timeline[1].labels;
  const { node } = await render(data, 'the plain text');
  assert.match(node.textContent, /could not be read \(a tool entry has no labels\)/);
});
