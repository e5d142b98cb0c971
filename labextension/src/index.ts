/**
 * A JupyterLab mime renderer for saved Conjure chat turns.
 *
 * A chat cell's output bundle holds the turn's record under `TURN_MIME_TYPE`
 * (written by `conjure_kernel/notebook/display.py`) next to `text/html`,
 * `text/markdown` and `text/plain` fallbacks. This renderer shows the record
 * natively and themed; its rank (0) beats `text/html` (50), so JupyterLab picks
 * it whenever the extension is installed.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { renderTurn } from './turnView';

/**
 * The MIME type of a saved turn; `conjure_kernel.notebook.display.TURN_MIME_TYPE`
 * holds the same string (tests/labextension/test_mime_type.py checks it).
 */
export const TURN_MIME_TYPE = 'application/vnd.conjure.turn.v1+json';

/**
 * The class name added to the renderer's node.
 */
const CSS_CLASS = 'jp-RenderedConjureTurn';

/**
 * A widget showing one saved chat turn: answer text, tool calls, problems, footer.
 */
export class RenderedConjureTurn extends Widget implements IRenderMime.IRenderer {
  /**
   * Create a new widget for rendering a turn.
   */
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.addClass(CSS_CLASS);
    this._mimeType = options.mimeType;
    this._sanitizer = options.sanitizer;
    this._markdownParser = options.markdownParser ?? null;
    this._resolver = options.resolver ?? null;
    this._linkHandler = options.linkHandler ?? null;
  }

  /**
   * Render the turn held by the model into this widget's node.
   *
   * The view is built off-document and swapped in once its Markdown is parsed,
   * so a re-render never shows a half-built turn.
   */
  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const generation = ++this._generation;
    const view = await renderTurn(
      model.data[this._mimeType],
      Private.textFallback(model),
      {
        sanitizer: this._sanitizer,
        markdownParser: this._markdownParser,
        resolver: this._resolver,
        linkHandler: this._linkHandler
      },
      Private.htmlFallback(model)
    );
    if (this.isDisposed || generation !== this._generation) {
      return;
    }
    this.node.replaceChildren(...view.children);
    this.toggleClass('jp-mod-error', view.failed);
  }

  /**
   * Dispose of the widget; a render still parsing Markdown is dropped.
   */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._generation++;
    super.dispose();
  }

  private _mimeType: string;
  private _sanitizer: IRenderMime.ISanitizer;
  private _markdownParser: IRenderMime.IMarkdownParser | null;
  private _resolver: IRenderMime.IResolver | null;
  private _linkHandler: IRenderMime.ILinkHandler | null;
  private _generation = 0;
}

/**
 * A renderer factory for saved turns. It is safe: every piece of HTML it
 * inserts has been through the application's sanitizer.
 */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [TURN_MIME_TYPE],
  createRenderer: options => new RenderedConjureTurn(options)
};

/**
 * The mime extension. Rank 0: lower ranks win, and the bundle's `text/html`
 * fallback has rank 50.
 */
const extension: IRenderMime.IExtension = {
  id: 'conjure-kernel:turn-renderer',
  rendererFactory,
  rank: 0,
  dataType: 'json'
};

export default extension;

/**
 * The namespace for module-private helpers.
 */
namespace Private {
  /**
   * The bundle's plain-text version, shown when the record cannot be read.
   */
  export function textFallback(model: IRenderMime.IMimeModel): string {
    const text = model.data['text/plain'];
    if (typeof text === 'string') {
      return text;
    }
    return Array.isArray(text) ? text.join('') : '';
  }

  /**
   * The bundle's HTML, shown (sanitized) for a record saved before records carried
   * their labels.
   */
  export function htmlFallback(model: IRenderMime.IMimeModel): string {
    const html = model.data['text/html'];
    if (typeof html === 'string') {
      return html;
    }
    return Array.isArray(html) ? html.join('') : '';
  }
}
