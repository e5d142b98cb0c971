// The JupyterLab renderer (labextension/lib/turnView.js, compiled from src/turnView.ts)
// drawn in jsdom on every golden record of tests/golden, checked against the Python
// plain rendering saved beside it: every line the person reads there (answer text,
// each step's thinking line, each tool call's title with its state, notices, files,
// approvals, drift, errors) must be in the renderer's visible text too.
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

const RECORDS = readdirSync(golden)
  .filter(name => name.endsWith('.record.json'))
  .map(name => name.slice(0, -'.record.json'.length))
  .sort();

function read(name, suffix) {
  return readFileSync(path.join(golden, name + suffix), 'utf-8');
}

/** The rendered turn in a detached element, as the widget's node would hold it. */
async function render(record, plain) {
  const view = await renderTurn(record, plain, CONTEXT);
  const node = document.createElement('div');
  node.append(...view.children);
  return { node, failed: view.failed };
}

const squash = text => text.replace(/\s+/g, ' ').trim();

/** The lines of the plain rendering, without the brackets around one-line entries. */
function keyLines(plain) {
  return plain
    .split('\n')
    .map(line => line.trim())
    .filter(Boolean)
    .map(line => (line.startsWith('[') && line.endsWith(']') ? line.slice(1, -1) : line));
}

/** The lines the node's text does not show. */
function missing(node, lines) {
  const shown = squash(node.textContent);
  return lines.filter(line => !shown.includes(squash(line)));
}

test('there are golden records to check, of every schema the renderer reads', () => {
  assert.ok(RECORDS.length >= 7, RECORDS.join(', '));
  const schemas = new Set(RECORDS.map(name => JSON.parse(read(name, '.record.json')).schema));
  assert.deepEqual([...schemas].sort(), [1, 2, SUPPORTED_SCHEMA]);
});

for (const name of RECORDS) {
  test(`${name}: the renderer shows every line of the Python plain rendering`, async () => {
    const record = JSON.parse(read(name, '.record.json'));
    const plain = read(name, '.txt');
    const { node, failed } = await render(record, plain);
    // The fallback would show the plain text itself, and so pass for the wrong reason.
    assert.equal(node.querySelector(`.${PREFIX}-fallback`), null, 'the record was not readable');
    assert.deepEqual(missing(node, keyLines(plain)), []);
    assert.equal(failed, Boolean(record.error));
  });
}

for (const name of RECORDS) {
  test(`${name}: each tool call's summary reads as its Python title`, async () => {
    const record = JSON.parse(read(name, '.record.json'));
    const plain = read(name, '.txt');
    const { node } = await render(record, plain);
    // The Python titles are the bracketed lines that are not thinking, notices, files or
    // approvals.
    const titles = plain
      .split('\n')
      .filter(line => line.startsWith('[') && line.endsWith(']'))
      .map(line => line.slice(1, -1))
      .filter(line => !/^(thinking · |notice: |warning: |created |approval for )/.test(line));
    const summaries = [...node.querySelectorAll(`.${PREFIX}-toolSummary`)];
    assert.deepEqual(
      summaries.map(summary => summary.textContent),
      titles
    );
  });
}

for (const name of RECORDS.filter(n => JSON.parse(read(n, '.record.json')).timeline)) {
  test(`${name}: each tool call's row carries its state and where it ran`, async () => {
    const record = JSON.parse(read(name, '.record.json'));
    const { node } = await render(record, read(name, '.txt'));
    const rows = [...node.querySelectorAll(`.${PREFIX}-toolCall`)];
    const tools = record.timeline.filter(entry => entry.type === 'tool');
    assert.deepEqual(
      rows.map(row => [row.dataset.status, row.dataset.server === 'true']),
      tools.map(tool => [tool.state, tool.server])
    );
  });
}

for (const name of RECORDS) {
  test(`${name}: the footer says what the Python footer says`, async () => {
    const record = JSON.parse(read(name, '.record.json'));
    const { node } = await render(record, read(name, '.txt'));
    // The Markdown rendering ends with the Python footer in emphasis: *model · … *.
    const python = read(name, '.md').trim().split('\n').pop().slice(1, -1);
    assert.equal(node.querySelector(`.${PREFIX}-footer`).textContent, python);
  });
}

for (const name of RECORDS) {
  test(`${name}: each step's thinking is a folded row under its Python label`, async () => {
    const record = JSON.parse(read(name, '.record.json'));
    const plain = read(name, '.txt');
    const { node } = await render(record, plain);
    const rows = [...node.querySelectorAll(`details.${PREFIX}-thinking`)];
    assert.deepEqual(
      rows.map(row => [row.querySelector('summary').textContent, row.open]),
      [...plain.matchAll(/^\[(thinking · .*)\]$/gm)].map(match => [match[1], false])
    );
    const thoughts = (record.timeline ?? []).filter(entry => entry.type === 'thinking');
    assert.deepEqual(
      rows.map(row => row.querySelector(`.${PREFIX}-plainText`).textContent),
      thoughts.map(entry => entry.text)
    );
  });
}

test('the golden records check thinking', () => {
  assert.ok(RECORDS.some(name => read(name, '.txt').includes('[thinking · ')));
});

test('thinking words are counted as turn_labels.thinking_line counts them', async () => {
  // Expected labels from conjure_kernel.notebook.turn_labels.thinking_line.
  const cases = [
    ['', 'thinking · 0 words'],
    [' \n\t ', 'thinking · 0 words'],
    ['one', 'thinking · 1 word'],
    ['a\x1cb\x1dc\x1ed\x1ff', 'thinking · 5 words'],
    ['a\ufeffb\u3000c\u2028d', 'thinking · 4 words'],
    ['a\u200bb', 'thinking · 1 word']
  ];
  const record = JSON.parse(read('plain_answer', '.record.json'));
  for (const [text, expected] of cases) {
    const { node } = await render({ ...record, timeline: [{ type: 'thinking', text }] }, '');
    assert.equal(node.querySelector(`.${PREFIX}-thinking summary`).textContent, expected, text);
  }
});

test('the golden records check a footer with spend', () => {
  assert.ok(RECORDS.some(name => JSON.parse(read(name, '.record.json')).total_spend));
});

test('spend reads as Spend.short writes it', async () => {
  // Expected strings from conjure_kernel.clients.pricing.Spend(...).short().
  const cases = [
    [{ dollars: 0.0425, tokens: 10 }, '$0.043'],
    [{ dollars: 0.00375, tokens: 10 }, '$0.0037'],
    [{ dollars: 0.995, tokens: 10 }, '$0.99'],
    [{ dollars: 0.999, tokens: 10 }, '$1.00'],
    [{ dollars: 0, tokens: 0 }, '$0.00'],
    [{ dollars: 2.675, tokens: 10, unpriced: true }, '$2.67 + tokens at an unknown price'],
    [{ dollars: 999999.995, tokens: 10 }, '$999,999.99'],
    [{ dollars: 999.996, tokens: 10 }, '$1,000.00'],
    [{ dollars: 0.0995, tokens: 10 }, '$0.100'],
    [{ dollars: 0, tokens: 1234567, unpriced: true }, '1,234,567 tokens']
  ];
  const record = JSON.parse(read('plain_answer', '.record.json'));
  for (const [spend, expected] of cases) {
    const { node } = await render({ ...record, spend, total_spend: spend }, '');
    const footer = node.querySelector(`.${PREFIX}-footer`).textContent;
    assert.ok(footer.includes(`${expected} this turn, ${expected} in this notebook`), footer);
  }
});

test('a created file in the workdir is a link, an image is shown too, one outside is text', async () => {
  const record = JSON.parse(read('hosted', '.record.json'));
  record.timeline.push({ type: 'file', path: '/elsewhere/<b>x</b>.png', tool_use_id: '' });
  record.timeline.push({ type: 'file', path: 'plots/a:b.svg', tool_use_id: '' });
  const { node } = await render(record, '');
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
      ['created plots/a:b.svg', 'plots/a%3Ab.svg', 'plots/a%3Ab.svg']
    ]
  );
  assert.equal(node.querySelector('b'), null);
  // The Python HTML links the same files to the same places.
  const html = read('hosted', '.html');
  assert.match(html, /<a href="outputs\/chart.png">.*<img src="outputs\/chart.png"/);
  assert.match(html, /<a href="outputs\/sales%20summary.csv">/);
});

test('with the notebook\'s resolver, a file links to its download URL and opens in JupyterLab', async () => {
  const handled = [];
  const context = {
    ...CONTEXT,
    resolver: {
      resolveUrl: async url => `work/nb/${url}`,
      getDownloadUrl: async path => `/files/${path}?_xsrf=1`
    },
    linkHandler: { handleLink: (node, path) => handled.push([node.tagName, path]) }
  };
  const view = await renderTurn(JSON.parse(read('hosted', '.record.json')), '', context);
  const node = document.createElement('div');
  node.append(...view.children);
  const file = node.querySelector(`.${PREFIX}-file`);
  assert.equal(file.querySelector('a').getAttribute('href'), '/files/work/nb/outputs/chart.png?_xsrf=1');
  assert.equal(file.querySelector('img').getAttribute('src'), '/files/work/nb/outputs/chart.png?_xsrf=1');
  assert.deepEqual(handled, [
    ['A', 'work/nb/outputs/chart.png'],
    ['A', 'work/nb/outputs/sales summary.csv']
  ]);
});

test('the comparison notices a line the renderer does not show', async () => {
  const record = JSON.parse(read('hosted', '.record.json'));
  record.timeline = record.timeline.filter(entry => entry.type !== 'notice');
  const { node } = await render(record, read('hosted', '.txt'));
  assert.deepEqual(missing(node, keyLines(read('hosted', '.txt'))), [
    'notice: reusing container container_011CYfake (expires 12:30)',
    'warning: the Files API was slow; the download was retried once'
  ]);
});

test('a record of a newer schema shows a notice and the plain text', async () => {
  const record = { ...JSON.parse(read('tool_calls', '.record.json')), schema: SUPPORTED_SCHEMA + 1 };
  const { node } = await render(record, 'the plain text');
  assert.match(node.textContent, /Upgrade conjure-kernel/);
  assert.equal(node.querySelector(`.${PREFIX}-fallback`).textContent, 'the plain text');
});

test('a timeline entry of an unknown type makes the record unreadable, not half drawn', async () => {
  const record = JSON.parse(read('tool_calls', '.record.json'));
  record.timeline.push({ type: 'hologram' });
  const { node } = await render(record, 'the plain text');
  assert.match(node.textContent, /could not be read \(a timeline entry has an unknown type\)/);
});
