/**
 * The DOM of one saved turn, laid out from its record (`TurnRecord.to_json` in
 * `conjure_kernel/conversation/transcript.py`), which carries every label a person
 * reads (`conversation/labels.py`: titles, states, durations, output runs and folds,
 * lines, problems, footer). This module words, counts, rounds and parses none of them:
 * it lays them out in the timeline's order, each in an element whose `data-label`
 * names its kind, as the Python `text/html` does (tests/labextension/turn_view.test.mjs
 * holds both to tests/golden). Record text is set with `textContent`; the only HTML
 * inserted went through the sanitizer.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

/**
 * The record schema read (`TURN_SCHEMA` in transcript.py); older ones carry no labels.
 */
export const SUPPORTED_SCHEMA = 4;

const PREFIX = 'jp-RenderedConjureTurn';

/**
 * The renderer's options for safe Markdown and for linking created files.
 */
export interface IMarkdownContext {
  sanitizer: IRenderMime.ISanitizer;
  markdownParser: IRenderMime.IMarkdownParser | null;
  resolver?: IRenderMime.IResolver | null;
  linkHandler?: IRenderMime.ILinkHandler | null;
}

/**
 * A built view: its top-level elements, and whether the turn failed.
 */
export interface ITurnView {
  children: HTMLElement[];
  failed: boolean;
}

type JSONObject = { [key: string]: unknown };

/**
 * Build the view of a turn. A record of another schema, or one that cannot be read,
 * gives a notice, then the bundle's saved HTML (sanitized) or else its plain text.
 */
export async function renderTurn(
  data: unknown,
  fallbackText: string,
  context: IMarkdownContext,
  fallbackHtml = ''
): Promise<ITurnView> {
  const record = asObject(data);
  const schema = record.schema;
  const saved = (notice: string) => fallback(notice, fallbackText, fallbackHtml, context);
  if (typeof schema !== 'number' || schema > SUPPORTED_SCHEMA) {
    const named = typeof schema === 'number' ? `schema ${schema}` : 'an unknown schema';
    return saved(`This turn was saved with ${named}; upgrade conjure-kernel to see it in full. As saved:`);
  }
  if (schema < SUPPORTED_SCHEMA) {
    return saved('This turn was saved by an older conjure-kernel; run its cell again to redraw it. As saved:');
  }
  try {
    check(record);
    return await renderRecord(record, context);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return saved(`This turn's record could not be read (${reason}). As saved:`);
  }
}

const ENTRY_TYPES = ['text', 'thinking', 'tool', 'notice', 'file', 'approval'];

/**
 * A tool call's state (`ToolState` in conversation/turn.py) → its row's class.
 */
const STATE_CLASSES = new Map(
  Object.entries({ running: 'running', ok: '', error: 'error', interrupted: 'running', denied: 'error' })
);

/**
 * Reject a record whose shape this module cannot lay out, rather than half draw it.
 */
function check(record: JSONObject): void {
  // prettier-ignore
  const need = (holds: boolean, problem: string) => { if (!holds) { throw new Error(problem); } };
  need(Array.isArray(record.timeline), 'timeline must be a list');
  for (const entry of asArray(record.timeline).map(asObject)) {
    need(ENTRY_TYPES.includes(String(entry.type)), 'a timeline entry has an unknown type');
    need(entry.type === 'text' || isObject(entry.labels), `a ${entry.type} entry has no labels`);
    const state = JSON.stringify(entry.state);
    need(entry.type !== 'tool' || STATE_CLASSES.has(String(entry.state)), `a tool entry has an unknown state ${state}`);
  }
  need(isObject(record.labels) && Array.isArray(record.labels.footer), 'the record has no footer');
}

async function renderRecord(record: JSONObject, context: IMarkdownContext): Promise<ITurnView> {
  const children = await Promise.all(
    asArray(record.timeline).map(item => {
      const entry = asObject(item);
      const labels = asObject(entry.labels);
      const line = String(labels.line ?? '');
      switch (entry.type) {
        case 'text':
          return renderMarkdown(String(entry.text ?? ''), context);
        case 'file':
          return fileLine(labels, context);
        case 'tool':
          return toolCall(entry, labels);
        case 'thinking': {
          const row = el('details', `${PREFIX}-note ${PREFIX}-thinking`);
          row.append(el('summary', '', line, 'thinking'), el('div', `${PREFIX}-plainText`, String(entry.text ?? '')));
          return row;
        }
        case 'notice': {
          const node = el('div', `${PREFIX}-note`, line, 'notice');
          node.dataset.level = String(entry.level ?? 'info');
          return node;
        }
        default: {
          const node = el('div', `${PREFIX}-approval`, line, 'approval');
          node.dataset.decision = String(labels.decision ?? '');
          return node;
        }
      }
    })
  );
  const labels = asObject(record.labels);
  children.push(...problems(labels), footer(asArray(labels.footer)));
  return { children, failed: Boolean(record.error) };
}

/**
 * A created file's line, a link when the record has one (relative to the notebook's
 * folder: the resolver makes it a download URL, the link handler opens it in JupyterLab),
 * then the image itself for an image.
 */
async function fileLine(labels: JSONObject, context: IMarkdownContext): Promise<HTMLElement> {
  const node = el('div', `${PREFIX}-file`);
  const line = el('code', `${PREFIX}-filePath`, String(labels.line ?? ''), 'file');
  if (typeof labels.link !== 'string' || !belowFolder(labels.link)) {
    node.append(line);
    return node;
  }
  let [url, serverPath] = [labels.link, ''];
  try {
    const resolved = context.resolver ? await context.resolver.resolveUrl(labels.link) : '';
    if (context.resolver && resolved) {
      [url, serverPath] = [await context.resolver.getDownloadUrl(resolved), decodeURIComponent(resolved)];
    }
  } catch {
    [url, serverPath] = [labels.link, ''];
  }
  const link = el('a', `${PREFIX}-fileLink`);
  link.setAttribute('href', url);
  link.append(line);
  if (serverPath && context.linkHandler) {
    context.linkHandler.handleLink(link, serverPath);
  }
  node.append(link);
  if (labels.image === true) {
    const image = el('img', `${PREFIX}-fileImage`);
    image.setAttribute('src', url);
    image.setAttribute('alt', String(labels.line ?? ''));
    node.append(image);
  }
  return node;
}

/** A link as display.py writes it: percent-encoded names below the folder (no scheme, root, `..`). */
function belowFolder(link: string): boolean {
  return link.split('/').every(part => /^[A-Za-z0-9%._~-]+$/.test(part) && !/^(\.|%2e){1,2}$/i.test(part));
}

/**
 * Markdown through the application's parser and sanitizer, or plain text.
 */
async function renderMarkdown(text: string, context: IMarkdownContext): Promise<HTMLElement> {
  const node = el('div', `${PREFIX}-answer`);
  if (context.markdownParser) {
    try {
      node.innerHTML = context.sanitizer.sanitize(await context.markdownParser.render(text));
      node.classList.add('jp-RenderedHTMLCommon', 'jp-RenderedMarkdown');
      for (const link of Array.from(node.querySelectorAll('a[href]'))) {
        if (/^https?:/i.test(link.getAttribute('href') ?? '')) {
          link.setAttribute('target', '_blank');
          link.setAttribute('rel', 'noopener noreferrer');
        }
      }
      return node;
    } catch {
      node.replaceChildren();
    }
  }
  node.classList.add(`${PREFIX}-plainText`);
  node.textContent = text.trim();
  return node;
}

const TITLE_PARTS = [['status', 'toolStatus'], ['duration', 'toolDuration'], ['where', 'toolWhere']];

/**
 * One tool call: a collapsible row whose summary is the title's parts (its name and
 * detail, then `TITLE_PARTS`), and whose body shows the input and, below it, the output.
 */
function toolCall(entry: JSONObject, labels: JSONObject): HTMLElement {
  const state = STATE_CLASSES.get(String(entry.state));
  const row = el('details', `${PREFIX}-toolCall${state ? ` jp-mod-${state}` : ''}`);
  row.dataset.status = String(entry.state);
  if (entry.server) {
    row.dataset.server = 'true';
  }
  const summary = el('summary', `${PREFIX}-toolSummary`, undefined, 'title');
  summary.append(el('span', `${PREFIX}-toolName`, String(labels.name ?? '')));
  if (labels.detail) {
    summary.append(' ', el('span', `${PREFIX}-toolDetail`, String(labels.detail)));
  }
  for (const [key, name] of TITLE_PARTS) {
    if (typeof labels[key] === 'string') {
      summary.append(el('span', `${PREFIX}-separator`, ' · '), el('span', `${PREFIX}-${name}`, labels[key]));
    }
  }
  const body = el('div', `${PREFIX}-toolBody`);
  body.append(toolInput(asObject(asObject(entry.call).input)));
  if (isObject(entry.result)) {
    body.append(output(entry.result, labels));
  }
  row.append(summary, body);
  return row;
}

/**
 * The output as styled runs (JupyterLab's `ansi-*` classes, drawn by its own
 * stylesheet inside `jp-RenderedText`), the runs past the fold under "show all".
 */
function output(result: JSONObject, labels: JSONObject): HTMLElement {
  const shown = isObject(labels.output) ? labels.output : { runs: [[result.content, '']] };
  const runs = asArray(shown.runs).map(run => asArray(run));
  const fold = typeof shown.fold === 'number' ? shown.fold : runs.length;
  const pre = (part: unknown[][]) => {
    const node = el('pre', `${PREFIX}-toolResultText`);
    for (const [text, style] of part.map(([text, style]) => [String(text ?? ''), String(style ?? '')])) {
      node.append(/^(ansi-[a-z-]+ ?)+$/.test(style) ? el('span', style, text) : text);
    }
    return node;
  };
  const section = el('div', `${PREFIX}-toolResult jp-RenderedText`);
  section.append(pre(runs.slice(0, fold)));
  if (fold < runs.length) {
    const more = el('details', `${PREFIX}-more`);
    more.append(el('summary', '', String(shown.more ?? ''), 'more'), pre(runs.slice(fold)));
    section.append(more);
  }
  return section;
}

/**
 * A tool's input without its description: a lone command as it would be typed,
 * anything else as labelled fields, strings shown verbatim.
 */
function toolInput(input: JSONObject): HTMLElement {
  const fields = Object.entries(input).filter(([key]) => key !== 'description');
  const section = el('div', `${PREFIX}-toolInput`);
  if (fields.length === 1 && fields[0][0] === 'command' && typeof fields[0][1] === 'string') {
    section.append(el('pre', `${PREFIX}-toolCommand`, fields[0][1]));
    return section;
  }
  const multiline = ([, value]: [string, unknown]) =>
    typeof value === 'string' && value.includes('\n') ? 1 : 0;
  fields.sort((a, b) => multiline(a) - multiline(b));
  for (const [key, value] of fields) {
    const field = el('div', `${PREFIX}-toolField`);
    field.append(el('div', `${PREFIX}-fieldName`, key));
    const text = typeof value === 'string' ? value : JSON.stringify(value, null, 1);
    field.append(el('pre', `${PREFIX}-toolFieldValue`, text));
    section.append(field);
  }
  return section;
}

/**
 * Changed skills and drift (each with its diff), then the error and its hint.
 */
function problems(labels: JSONObject): HTMLElement[] {
  const out = asArray(labels.problems).map(item => {
    const problem = asObject(item);
    const node = el('div', `${PREFIX}-drift`);
    node.append(el('div', `${PREFIX}-driftTitle`, String(problem.line ?? ''), 'problem'));
    if (typeof problem.diff === 'string') {
      node.append(el('pre', `${PREFIX}-diff`, problem.diff));
    }
    return node;
  });
  if (isObject(labels.error)) {
    const node = el('div', `${PREFIX}-error jp-mod-error`);
    node.append(el('div', `${PREFIX}-errorName`, String(labels.error.line ?? ''), 'error'));
    if (typeof labels.error.hint === 'string') {
      node.append(el('div', `${PREFIX}-errorHint`, labels.error.hint, 'hint'));
    }
    out.push(node);
  }
  return out;
}

/**
 * The footer's parts (model, backend, tokens, spend, replay, an unusual stop), apart.
 */
function footer(parts: unknown[]): HTMLElement {
  const node = el('div', `${PREFIX}-footer`, undefined, 'footer');
  parts.forEach((part, index) => {
    node.append(...(index ? [el('span', `${PREFIX}-separator`, ' · ')] : []), el('span', '', String(part)));
  });
  return node;
}

function fallback(notice: string, text: string, html: string, context: IMarkdownContext): ITurnView {
  const saved = html ? el('div', 'jp-RenderedHTMLCommon') : el('pre', `${PREFIX}-fallback`, text);
  if (html) {
    saved.innerHTML = context.sanitizer.sanitize(html);
  }
  return { children: [el('div', `${PREFIX}-notice`, notice), saved], failed: false };
}

/**
 * A new element with a class and, optionally, text (never HTML); an element holding a
 * label names its kind in `data-label`.
 */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
  label?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  if (label) {
    node.dataset.label = label;
  }
  return node;
}

function isObject(value: unknown): value is JSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const asObject = (value: unknown): JSONObject => (isObject(value) ? value : {});
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
