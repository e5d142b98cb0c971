/**
 * The DOM of one saved turn, built from its record (`TurnRecord.to_json` in
 * `conjure_kernel/conversation/transcript.py`).
 *
 * The layout follows the `text/html` fallback of `conjure_kernel/notebook/display.py`:
 * the turn's timeline (text runs, thinking, tool calls, notices, created files,
 * approvals) in the order the person saw it, then drift, changed skills and errors,
 * then a footer. The one-line labels (a tool call's summary, a step's thinking, a
 * notice, a file, an approval, an error) read exactly as in the Python renderings;
 * tests/labextension/turn_view.test.mjs holds both to the golden records in
 * tests/golden. Text from the record is set with `textContent`; the only HTML inserted
 * is Markdown that went through the sanitizer.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

/**
 * The newest record schema this renderer reads (`TURN_SCHEMA` in transcript.py).
 * Schema 1 records (no timeline) are read from their model steps; schema 3 added
 * thinking entries to the timeline.
 */
export const SUPPORTED_SCHEMA = 3;

const PREFIX = 'jp-RenderedConjureTurn';

/**
 * What the renderer's options provide: for turning Markdown into safe HTML, and for
 * linking created files (the notebook's resolver and link handler, when it has them).
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
      `This turn was saved with ${saved}; this conjure-kernel extension reads schemas up to ` +
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
 * Reject a record `TurnRecord.from_json` would reject for its shape: steps must be
 * a list of objects with a message; schema 1 needs tool calls with a call and a
 * result, later schemas a timeline of known entries.
 */
function check(record: JSONObject): void {
  if (!Array.isArray(record.steps)) {
    throw new Error('steps must be a list');
  }
  for (const step of record.steps) {
    if (!isObject(step) || !isObject(step.message)) {
      throw new Error('a step has no message');
    }
  }
  if (record.schema === 1) {
    if (!Array.isArray(record.tool_calls)) {
      throw new Error('tool_calls must be a list');
    }
    for (const item of record.tool_calls) {
      if (!isObject(item) || !isObject(item.call) || !isObject(item.result)) {
        throw new Error('a tool call has no call or no result');
      }
    }
    return;
  }
  if (!Array.isArray(record.timeline)) {
    throw new Error('timeline must be a list');
  }
  for (const entry of record.timeline) {
    if (!isObject(entry) || !ENTRY_TYPES.includes(String(entry.type))) {
      throw new Error('a timeline entry has an unknown type');
    }
    if ((entry.type === 'tool' || entry.type === 'approval') && !isObject(entry.call)) {
      throw new Error(`a ${entry.type} entry has no call`);
    }
    if (entry.type === 'tool' && !TOOL_STATES.includes(entry.state as ToolState)) {
      throw new Error(`a tool entry has an unknown state ${JSON.stringify(entry.state)}`);
    }
    if (entry.type === 'tool' && entry.result !== null && !isObject(entry.result)) {
      throw new Error('a tool entry has a result that is not an object');
    }
  }
}

const ENTRY_TYPES = ['text', 'thinking', 'tool', 'notice', 'file', 'approval'];

type JSONObject = { [key: string]: unknown };

/**
 * A tool call's state (`ToolState` in `conjure_kernel/conversation/turn.py`).
 */
type ToolState = 'running' | 'ok' | 'error' | 'interrupted' | 'denied';

const TOOL_STATES: ToolState[] = ['running', 'ok', 'error', 'interrupted', 'denied'];

/**
 * An entry of the turn in the order the person saw it (`Timeline` in turn.py).
 */
type Entry =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; text: string }
  | { kind: 'tool'; call: JSONObject; result?: JSONObject; state: ToolState; server: boolean }
  | { kind: 'notice'; text: string; level: string }
  | { kind: 'file'; path: string }
  | { kind: 'approval'; call: JSONObject; prompt: string; allowed: boolean | null; reason: string };

async function renderRecord(record: JSONObject, context: IMarkdownContext): Promise<ITurnView> {
  const children: Promise<HTMLElement>[] = [];
  const workdir = String(asObject(record.paths).workdir ?? '');
  for (const entry of record.schema === 1 ? stepEntries(record) : timelineEntries(record)) {
    if (entry.kind === 'text') {
      children.push(renderMarkdown(entry.text, context));
    } else if (entry.kind === 'file') {
      children.push(fileLine(entry.path, workdir, context));
    } else {
      children.push(Promise.resolve(line(entry)));
    }
  }
  const built = await Promise.all(children);
  built.push(...problems(record), footer(record));
  return { children: built, failed: Boolean(record.error) };
}

/**
 * A non-text entry's element.
 */
function line(entry: Exclude<Entry, { kind: 'text' | 'file' }>): HTMLElement {
  switch (entry.kind) {
    case 'tool':
      return toolCall(entry);
    case 'thinking':
      return thinking(entry.text);
    case 'notice': {
      const node = el('div', `${PREFIX}-note`, noticeLine(entry.text, entry.level));
      node.dataset.level = entry.level;
      return node;
    }
    case 'approval': {
      const node = el('div', `${PREFIX}-approval`, approvalLine(entry));
      node.dataset.decision = decision(entry.allowed);
      return node;
    }
  }
}

/**
 * Files shown inline as images (`_IMAGE_SUFFIXES` in display.py).
 */
const IMAGE_SUFFIXES = ['.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp'];

/**
 * `created PATH`: a link when the file lies in the session's workdir, followed by the
 * image itself for an image. The workdir is the kernel's working directory unless
 * configured otherwise, and JupyterLab starts the kernel in the notebook's folder, so
 * the path relative to it resolves against the notebook's folder, as display.py's
 * links (relative to the kernel's working directory) do. The notebook's resolver turns
 * it into a download URL and its link handler opens the file in JupyterLab; without
 * them (outside JupyterLab) the relative URL is used as it is.
 */
async function fileLine(path: string, workdir: string, context: IMarkdownContext): Promise<HTMLElement> {
  const node = el('div', `${PREFIX}-file`, 'created ');
  const code = el('code', `${PREFIX}-filePath`, path);
  const relative = relativeUrl(path, workdir);
  if (relative === null) {
    node.append(code);
    return node;
  }
  let url = relative;
  let serverPath: string | null = null;
  if (context.resolver) {
    try {
      const resolved = await context.resolver.resolveUrl(relative);
      url = await context.resolver.getDownloadUrl(resolved);
      serverPath = decodeURIComponent(resolved);
    } catch {
      url = relative;
    }
  }
  const link = el('a', `${PREFIX}-fileLink`);
  link.setAttribute('href', url);
  link.append(code);
  if (serverPath !== null && context.linkHandler) {
    context.linkHandler.handleLink(link, serverPath);
  }
  node.append(link);
  const lower = path.toLowerCase();
  if (IMAGE_SUFFIXES.some(suffix => lower.endsWith(suffix))) {
    const image = el('img', `${PREFIX}-fileImage`);
    image.setAttribute('src', url);
    image.setAttribute('alt', path.split('/').pop() ?? '');
    node.append(image);
  }
  return node;
}

/**
 * A host path (absolute, or relative to the workdir) as a URL relative to the
 * workdir, each segment percent-encoded (so never a scheme); null when it lies
 * outside the workdir or the workdir is unknown.
 */
function relativeUrl(path: string, workdir: string): string | null {
  if (!workdir.startsWith('/')) {
    return null;
  }
  const normal = (text: string): string[] => {
    const parts: string[] = [];
    for (const part of text.split('/')) {
      if (part === '..') {
        parts.pop();
      } else if (part && part !== '.') {
        parts.push(part);
      }
    }
    return parts;
  };
  const base = normal(workdir);
  const full = normal(path.startsWith('/') ? path : `${workdir}/${path}`);
  if (full.length <= base.length || base.some((part, index) => full[index] !== part)) {
    return null;
  }
  return full.slice(base.length).map(encodeURIComponent).join('/');
}

/**
 * The entries of a schema 2 record: its timeline.
 */
function timelineEntries(record: JSONObject): Entry[] {
  return asArray(record.timeline).map(item => {
    const entry = asObject(item);
    switch (entry.type) {
      case 'text':
        return { kind: 'text', text: String(entry.text ?? '') };
      case 'thinking':
        return { kind: 'thinking', text: String(entry.text ?? '') };
      case 'tool':
        return {
          kind: 'tool',
          call: asObject(entry.call),
          result: isObject(entry.result) ? entry.result : undefined,
          state: entry.state as ToolState,
          server: Boolean(entry.server)
        };
      case 'notice':
        return { kind: 'notice', text: String(entry.text ?? ''), level: String(entry.level ?? 'info') };
      case 'file':
        return { kind: 'file', path: String(entry.path ?? '') };
      default:
        return {
          kind: 'approval',
          call: asObject(entry.call),
          prompt: String(entry.prompt ?? ''),
          allowed: typeof entry.allowed === 'boolean' ? entry.allowed : null,
          reason: String(entry.reason ?? '')
        };
    }
  });
}

/**
 * The entries of a schema 1 record (`Timeline.from_steps` in turn.py): text runs and
 * tool calls in step order, adjacent text merged; calls the steps do not name follow;
 * the streamed answer stands in for missing steps. A call without a result never
 * finished.
 */
function stepEntries(record: JSONObject): Entry[] {
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
  const finished = (call: JSONObject): Entry => {
    const result = results.get(String(call.id));
    const state = result ? (result.is_error ? 'error' : 'ok') : 'interrupted';
    return { kind: 'tool', call, result, state, server: false };
  };
  const seen = new Set<string>();
  for (const step of asArray(record.steps)) {
    const content = asObject(asObject(step).message).content;
    for (const block of typeof content === 'string' ? [{ type: 'text', text: content }] : asArray(content)) {
      const b = asObject(block);
      if (b.type === 'text' && typeof b.text === 'string' && b.text) {
        addText(b.text);
      } else if (b.type === 'tool_use') {
        seen.add(String(b.id));
        out.push(finished(b));
      }
    }
  }
  for (const item of asArray(record.tool_calls)) {
    const call = asObject(asObject(item).call);
    if (!seen.has(String(call.id))) {
      out.push(finished(call));
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
 * One tool call: a collapsible row whose summary reads like the Python title
 * (`name detail · status · duration · on the server`), and whose body shows the
 * input and, separated below it, the result.
 */
function toolCall(entry: Entry & { kind: 'tool' }): HTMLElement {
  const input = asObject(entry.call.input);
  const result = entry.result;
  const row = el('details', `${PREFIX}-toolCall`);
  row.dataset.status = entry.state;
  if (entry.server) {
    row.dataset.server = 'true';
  }
  if (entry.state === 'error' || entry.state === 'denied') {
    row.classList.add('jp-mod-error');
  } else if (entry.state === 'running' || entry.state === 'interrupted') {
    row.classList.add('jp-mod-running');
  }

  const summary = el('summary', `${PREFIX}-toolSummary`);
  summary.append(el('span', `${PREFIX}-toolName`, String(entry.call.name ?? 'tool')));
  const key = detailKey(input);
  const detail = detailOf(input);
  if (key !== undefined && detail) {
    // The whole field on hover: the summary shows its first line only.
    const detailNode = el('span', `${PREFIX}-toolDetail`, detail);
    detailNode.title = String(input[key]);
    summary.append(' ', detailNode);
  }
  const parts: [string, string][] = [[`${PREFIX}-toolStatus`, toolStatus(entry)]];
  if (result && (entry.state === 'ok' || entry.state === 'error')) {
    parts.push([`${PREFIX}-toolDuration`, duration(result.duration)]);
  }
  if (entry.server) {
    parts.push([`${PREFIX}-toolWhere`, 'on the server']);
  }
  for (const [className, text] of parts) {
    summary.append(el('span', `${PREFIX}-separator`, ' · '), el('span', className, text));
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

/**
 * `running…`; `exit N` for a finished command; otherwise the state's name.
 */
function toolStatus(entry: Entry & { kind: 'tool' }): string {
  if (entry.state === 'running') {
    return 'running…';
  }
  const exit = entry.result?.exit_code;
  if ((entry.state === 'ok' || entry.state === 'error') && typeof exit === 'number') {
    return `exit ${exit}`;
  }
  return entry.state;
}

/**
 * The input field that says what a call is about: its description, path, command or code.
 */
function detailKey(input: JSONObject): string | undefined {
  return ['description', 'path', 'command', 'code'].find(name => input[name]);
}

/**
 * That field's first line.
 */
function detailOf(input: JSONObject): string {
  const key = detailKey(input);
  return key === undefined ? '' : String(input[key]).split('\n')[0].trim();
}

function callTitle(call: JSONObject): string {
  return `${String(call.name ?? 'tool')} ${detailOf(asObject(call.input))}`.trim();
}

/**
 * A step's thinking, muted like a notice and folded under `thinking · N words`
 * (`thinking_line` in turn_labels.py: words split where either language's `\s` does).
 */
function thinking(text: string): HTMLElement {
  const words = text.match(/[^\s\x1c-\x1f\x85]+/g)?.length ?? 0;
  const row = el('details', `${PREFIX}-note ${PREFIX}-thinking`);
  row.append(el('summary', '', `thinking · ${words} word${words === 1 ? '' : 's'}`));
  row.append(el('div', `${PREFIX}-plainText`, text));
  return row;
}

function noticeLine(text: string, level: string): string {
  return `${level === 'warning' ? 'warning' : 'notice'}: ${text}`;
}

function decision(allowed: boolean | null): string {
  return allowed === null ? 'asked' : allowed ? 'allowed' : 'denied';
}

/**
 * `approval for name detail: prompt · allowed (reason)`; "asked" while undecided.
 */
function approvalLine(entry: Entry & { kind: 'approval' }): string {
  let asked = `approval for ${callTitle(entry.call)}`;
  if (entry.prompt) {
    asked += `: ${entry.prompt}`;
  }
  const reason = entry.reason ? ` (${entry.reason})` : '';
  return `${asked} · ${decision(entry.allowed)}${reason}`;
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
  const environment = asArray(record.environment_changed).map(String);
  if (environment.length) {
    const node = el('div', `${PREFIX}-drift ${PREFIX}-environmentChanged`);
    node.append(
      el('span', `${PREFIX}-driftTitle`, 'the tools run on another environment than recorded: ')
    );
    node.append(el('span', `${PREFIX}-driftNames`, environment.join('; ')));
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
 * `$0.042`; the tokens when nothing was priced, and a note when part was not
 * (`Spend.short` in conjure_kernel/clients/pricing.py).
 */
function spendShort(spend: JSONObject): string {
  const dollars = Number(spend.dollars) || 0;
  const tokens = Number(spend.tokens) || 0;
  if (spend.unpriced && !dollars) {
    return `${tokens.toLocaleString('en-US')} tokens`;
  }
  return formatDollars(dollars) + (spend.unpriced ? ' + tokens at an unknown price' : '');
}

/**
 * `$1,234.50`; under a dollar, two significant digits (`$0.42`, `$0.0042`), as
 * `format_dollars` in pricing.py.
 */
function formatDollars(dollars: number): string {
  if (dollars >= 1 || dollars <= 0) {
    return `$${fixed(dollars, 2, true)}`;
  }
  const digits = Math.min(Math.max(2, 1 - Math.floor(Math.log10(dollars))), 8);
  return `$${fixed(dollars, digits, false)}`;
}

/**
 * `value` with `digits` decimals, rounded as Python's `format` rounds: from the
 * number's exact decimal expansion, ties to even (`toFixed` would round 0.125 up).
 */
function fixed(value: number, digits: number, grouped: boolean): string {
  const size = Math.abs(value);
  if (!Number.isFinite(value) || size >= 1e21) {
    return value.toFixed(digits);
  }
  const [whole, fraction] = size.toFixed(100).split('.');
  let kept = whole + fraction.slice(0, digits);
  const rest = fraction.slice(digits);
  const odd = Number(kept[kept.length - 1]) % 2 === 1;
  if (rest[0] > '5' || (rest[0] === '5' && (/[1-9]/.test(rest.slice(1)) || odd))) {
    const out = kept.split('');
    let index = out.length - 1;
    while (index >= 0 && out[index] === '9') {
      out[index--] = '0';
    }
    kept = (index < 0 ? '1' : '') + out.map((digit, at) => (at === index ? String(Number(digit) + 1) : digit)).join('');
  }
  let integer = kept.slice(0, kept.length - digits);
  if (grouped) {
    integer = integer.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }
  const sign = value < 0 && /[1-9]/.test(kept) ? '-' : '';
  return sign + integer + (digits ? `.${kept.slice(kept.length - digits)}` : '');
}

/**
 * model · backend · tokens in (cache reads) / out · spend · replayed · unusual stop reason.
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
  if (isObject(record.spend) && isObject(record.total_spend)) {
    parts.push(`${spendShort(record.spend)} this turn, ${spendShort(record.total_spend)} in this notebook`);
  }
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

/**
 * `<1 ms`, `250 ms`, `2.50 s`, computed from integers exactly as `_duration` in
 * display.py does, so both write the same digits for every value.
 */
function duration(value: unknown): string {
  const seconds = Number(value) || 0;
  const ms = Math.floor(seconds * 1000 + 0.5);
  if (ms < 1) {
    return '<1 ms';
  }
  if (ms < 1000) {
    return `${ms} ms`;
  }
  const centiseconds = Math.floor(seconds * 100 + 0.5);
  return `${Math.floor(centiseconds / 100)}.${String(centiseconds % 100).padStart(2, '0')} s`;
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
