/**
 * The DOM of one saved turn, built from its record (`TurnRecord.to_json` in
 * `conjure_kernel/conversation/transcript.py`).
 *
 * The layout follows the `text/html` fallback of `conjure_kernel/notebook/display.py`:
 * the answer's text in step order, interleaved with the tool calls, then drift,
 * changed skills and errors, then a footer. Text from the record is set with
 * `textContent`; the only HTML inserted is Markdown that went through the sanitizer.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

/**
 * The newest record schema this renderer reads (`TURN_SCHEMA` in transcript.py).
 */
export const SUPPORTED_SCHEMA = 1;

const PREFIX = 'jp-RenderedConjureTurn';

/**
 * What the renderer's options provide for turning Markdown into safe HTML.
 */
export interface IMarkdownContext {
  sanitizer: IRenderMime.ISanitizer;
  markdownParser: IRenderMime.IMarkdownParser | null;
}

/**
 * A built view: its top-level elements, and whether the turn failed.
 */
export interface ITurnView {
  children: HTMLElement[];
  failed: boolean;
}

/**
 * Build the view of a turn. An unreadable or newer record gives a short notice
 * followed by the bundle's plain-text version.
 */
export async function renderTurn(
  data: unknown,
  fallbackText: string,
  context: IMarkdownContext
): Promise<ITurnView> {
  const record = asObject(data);
  const schema = record.schema;
  if (typeof schema !== 'number' || schema > SUPPORTED_SCHEMA) {
    const saved = typeof schema === 'number' ? `schema ${schema}` : 'an unknown schema';
    return fallback(
      `This turn was saved with ${saved}; this conjure-kernel extension reads schema ` +
        `${SUPPORTED_SCHEMA}. Upgrade conjure-kernel to see it in full. Its text:`,
      fallbackText
    );
  }
  try {
    check(record);
    return await renderRecord(record, context);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return fallback(`This turn's record could not be read (${reason}). Its text:`, fallbackText);
  }
}

/**
 * Reject a record `TurnRecord.from_json` would reject for its shape: steps and
 * tool calls must be lists of objects, each tool call with a call and a result.
 */
function check(record: JSONObject): void {
  if (!Array.isArray(record.steps) || !Array.isArray(record.tool_calls)) {
    throw new Error('steps and tool_calls must be lists');
  }
  for (const step of record.steps) {
    if (!isObject(step) || !isObject(step.message)) {
      throw new Error('a step has no message');
    }
  }
  for (const item of record.tool_calls) {
    if (!isObject(item) || !isObject(item.call) || !isObject(item.result)) {
      throw new Error('a tool call has no call or no result');
    }
  }
}

/**
 * An entry of the turn in the order the user saw it.
 */
type Entry = { kind: 'text'; text: string } | { kind: 'tool'; call: JSONObject; result?: JSONObject };

type JSONObject = { [key: string]: unknown };

async function renderRecord(record: JSONObject, context: IMarkdownContext): Promise<ITurnView> {
  const children: Promise<HTMLElement>[] = [];
  for (const entry of entries(record)) {
    if (entry.kind === 'text') {
      children.push(renderMarkdown(entry.text, context));
    } else {
      children.push(Promise.resolve(toolCall(entry, record)));
    }
  }
  const built = await Promise.all(children);
  built.push(...problems(record), footer(record));
  return { children: built, failed: Boolean(record.error) };
}

/**
 * Text runs and tool calls in step order; adjacent text blocks are merged.
 */
function entries(record: JSONObject): Entry[] {
  const results = new Map<string, JSONObject>();
  for (const item of asArray(record.tool_calls)) {
    const { call, result } = asObject(item);
    results.set(String(asObject(call).id), asObject(result));
  }
  const out: Entry[] = [];
  const addText = (text: string) => {
    const last = out[out.length - 1];
    if (last && last.kind === 'text') {
      last.text += text;
    } else {
      out.push({ kind: 'text', text });
    }
  };
  const seen = new Set<string>();
  for (const step of asArray(record.steps)) {
    const content = asObject(asObject(step).message).content;
    for (const block of typeof content === 'string' ? [{ type: 'text', text: content }] : asArray(content)) {
      const b = asObject(block);
      if (b.type === 'text' && typeof b.text === 'string' && b.text) {
        addText(b.text);
      } else if (b.type === 'tool_use') {
        const id = String(b.id);
        seen.add(id);
        out.push({ kind: 'tool', call: b, result: results.get(id) });
      }
    }
  }
  for (const item of asArray(record.tool_calls)) {
    const call = asObject(asObject(item).call);
    if (!seen.has(String(call.id))) {
      out.push({ kind: 'tool', call, result: results.get(String(call.id)) });
    }
  }
  if (asArray(record.steps).length === 0 && typeof record.answer === 'string' && record.answer) {
    addText(record.answer);
  }
  return out;
}

/**
 * Markdown through the application's parser and sanitizer, or plain text.
 */
async function renderMarkdown(text: string, context: IMarkdownContext): Promise<HTMLElement> {
  const node = el('div', `${PREFIX}-answer`);
  if (context.markdownParser) {
    try {
      const html = await context.markdownParser.render(text);
      node.classList.add('jp-RenderedHTMLCommon', 'jp-RenderedMarkdown');
      node.innerHTML = context.sanitizer.sanitize(html);
      for (const link of Array.from(node.querySelectorAll('a[href]'))) {
        if (/^https?:/i.test(link.getAttribute('href') ?? '')) {
          link.setAttribute('target', '_blank');
          link.setAttribute('rel', 'noopener noreferrer');
        }
      }
      return node;
    } catch {
      node.classList.remove('jp-RenderedHTMLCommon', 'jp-RenderedMarkdown');
    }
  }
  node.classList.add(`${PREFIX}-plainText`);
  node.textContent = text.trim();
  return node;
}

/**
 * One tool call: a collapsible row whose summary gives name, detail, status and
 * duration, and whose body shows the input and, separated below it, the result.
 */
function toolCall(entry: Entry & { kind: 'tool' }, record: JSONObject): HTMLElement {
  const input = asObject(entry.call.input);
  const result = entry.result;
  const status = toolStatus(result, record);
  const row = el('details', `${PREFIX}-toolCall`);
  row.dataset.status = status.state;
  if (status.state !== 'ok') {
    row.classList.add(status.state === 'error' ? 'jp-mod-error' : 'jp-mod-running');
  }

  const summary = el('summary', `${PREFIX}-toolSummary`);
  summary.append(el('span', `${PREFIX}-toolName`, String(entry.call.name ?? 'tool')));
  const detail = input.description ?? input.command ?? input.path ?? '';
  const detailNode = el('span', `${PREFIX}-toolDetail`, String(detail).split('\n')[0]);
  if (typeof input.command === 'string') {
    detailNode.title = input.command;
  }
  summary.append(detailNode, el('span', `${PREFIX}-toolStatus`, status.label));
  if (result) {
    summary.append(el('span', `${PREFIX}-toolDuration`, duration(result.duration)));
  }
  row.append(summary);

  const body = el('div', `${PREFIX}-toolBody`);
  body.append(toolInput(input));
  if (result) {
    const section = el('div', `${PREFIX}-toolResult`);
    section.append(el('div', `${PREFIX}-label`, result.is_error ? 'error' : 'result'));
    section.append(el('pre', `${PREFIX}-toolResultText`, String(result.content ?? '')));
    body.append(section);
  }
  row.append(body);
  return row;
}

function toolStatus(
  result: JSONObject | undefined,
  record: JSONObject
): { state: 'ok' | 'error' | 'running'; label: string } {
  if (!result) {
    const ended = record.error || record.stop_reason;
    return { state: 'running', label: ended ? 'no result' : 'running…' };
  }
  const state = result.is_error ? 'error' : 'ok';
  const exit = result.exit_code;
  return { state, label: typeof exit === 'number' ? `exit ${exit}` : state };
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
  // One-line values (a path, a flag) first, then the long ones (file text, edits).
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
 * Changed skills, drift reports with coloured diffs, and the turn's error.
 */
function problems(record: JSONObject): HTMLElement[] {
  const out: HTMLElement[] = [];
  const changed = asArray(record.skills_changed).map(String);
  if (changed.length) {
    const node = el('div', `${PREFIX}-drift ${PREFIX}-skillsChanged`);
    node.append(el('span', `${PREFIX}-driftTitle`, 'skills changed since the recording: '));
    node.append(el('span', `${PREFIX}-driftNames`, changed.join(', ')));
    out.push(node);
  }
  for (const item of asArray(record.drift)) {
    const drift = asObject(item);
    const node = el('div', `${PREFIX}-drift`);
    const head = el('div', `${PREFIX}-driftHeader`);
    head.append(el('span', `${PREFIX}-driftTitle`, `drift in ${String(drift.name ?? 'a tool')}`));
    head.append(document.createTextNode(' (the re-run result differs from the recording)'));
    node.append(head, diff(String(drift.diff ?? '')));
    out.push(node);
  }
  const error = record.error ? asObject(record.error) : null;
  if (error) {
    const node = el('div', `${PREFIX}-error jp-mod-error`);
    const head = el('div', `${PREFIX}-errorHeader`);
    head.append(el('span', `${PREFIX}-errorName`, String(error.error ?? 'error')));
    head.append(document.createTextNode(`: ${String(error.message ?? '')}`));
    node.append(head);
    if (error.hint) {
      node.append(el('div', `${PREFIX}-errorHint`, String(error.hint)));
    }
    out.push(node);
  }
  return out;
}

function diff(text: string): HTMLElement {
  const pre = el('pre', `${PREFIX}-diff`);
  for (const line of text.replace(/\n$/, '').split('\n')) {
    let kind = '';
    if (line.startsWith('+++') || line.startsWith('---')) {
      kind = 'File';
    } else if (line.startsWith('@@')) {
      kind = 'Hunk';
    } else if (line.startsWith('+')) {
      kind = 'Added';
    } else if (line.startsWith('-')) {
      kind = 'Removed';
    }
    pre.append(el('span', `${PREFIX}-diffLine${kind ? ` ${PREFIX}-diff${kind}` : ''}`, line));
  }
  return pre;
}

/**
 * model · backend · tokens in (cache reads) / out · replayed · unusual stop reason.
 */
function footer(record: JSONObject): HTMLElement {
  const usage = asObject(record.usage);
  const count = (name: string) => Number(usage[name]) || 0;
  const cached = count('cache_read_input_tokens');
  const total = count('input_tokens') + cached + count('cache_creation_input_tokens');
  let tokens = `${total.toLocaleString('en-US')} in`;
  if (cached) {
    tokens += ` (${cached.toLocaleString('en-US')} from cache)`;
  }
  tokens += ` / ${count('output_tokens').toLocaleString('en-US')} out`;
  const parts = [String(record.model ?? ''), `${String(record.backend ?? '')} backend`, tokens];
  if (record.replayed) {
    parts.push('replayed from the recording');
  }
  const stop = record.stop_reason;
  if (typeof stop === 'string' && stop !== 'end_turn' && stop !== 'tool_use') {
    parts.push(`stopped: ${STOP_REASONS[stop] ?? stop}`);
  }
  const node = el('div', `${PREFIX}-footer`);
  parts.forEach((part, index) => {
    if (index) {
      node.append(el('span', `${PREFIX}-separator`, ' · '));
    }
    node.append(el('span', '', part));
  });
  return node;
}

const STOP_REASONS: { [reason: string]: string } = {
  max_tokens: 'the answer reached max_tokens and was cut off',
  refusal: 'the model declined to answer',
  model_context_window_exceeded: "the conversation no longer fits the model's context window",
  stop_sequence: 'a stop sequence was reached',
  pause_turn: 'the server paused the turn'
};

function fallback(notice: string, text: string): ITurnView {
  return {
    children: [el('div', `${PREFIX}-notice`, notice), el('pre', `${PREFIX}-fallback`, text)],
    failed: false
  };
}

function duration(value: unknown): string {
  const seconds = Number(value) || 0;
  if (seconds >= 1) {
    return `${seconds.toFixed(2)} s`;
  }
  const ms = Math.round(seconds * 1000);
  return ms < 1 ? '<1 ms' : `${ms} ms`;
}

/**
 * A new element with a class and, optionally, text (never HTML).
 */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function isObject(value: unknown): value is JSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): JSONObject {
  return isObject(value) ? value : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
