/**
 * Per-cell highlighting in Conjure notebooks: chat cells as Markdown, Python as Python.
 *
 * JupyterLab gives every code cell the one language of the kernel's `language_info`
 * (Markdown for Conjure). The editor follows its cell model's `mimeType`, so this sets
 * each code cell's MIME type from its first line, the way the kernel routes the cell
 * (`route_cell` in `conjure_kernel/notebook/kernel.py`): a cell starting with `%` or
 * `!` is IPython (`%%python` cells, line magics), `%%conjure` and anything else is a
 * chat message. When the notebook resets the MIME types (a kernel change, a new
 * cell), the cell's type is set again; in a notebook of another kernel nothing changes.
 */

import { ICellModel } from '@jupyterlab/cells';
import { INotebookModel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

import { CONJURE_LANGUAGE } from './status';

/**
 * The editor MIME type of IPython code (`%%python` cells, magics, shell escapes).
 */
export const PYTHON_MIME_TYPE = 'text/x-ipython';

/**
 * The editor MIME type of chat cells: the one JupyterLab's Markdown cells use.
 */
export const MARKDOWN_MIME_TYPE = 'text/x-ipythongfm';

/**
 * The MIME type a code cell's editor should use in a Conjure notebook.
 */
export function cellMimeType(source: string): string {
  const start = source.replace(/^\s+/, '');
  if (/^%%conjure(\s|$)/.test(start)) {
    return MARKDOWN_MIME_TYPE;
  }
  return /^[%!]/.test(start) ? PYTHON_MIME_TYPE : MARKDOWN_MIME_TYPE;
}

/**
 * Whether a notebook belongs to a Conjure kernel, from its metadata (so a saved
 * notebook opened without a kernel is highlighted too).
 */
export function isConjureNotebook(model: INotebookModel): boolean {
  const info = model.getMetadata('language_info') as { name?: unknown } | undefined;
  if (info && typeof info.name === 'string') {
    return info.name === CONJURE_LANGUAGE;
  }
  const spec = model.getMetadata('kernelspec') as { language?: unknown } | undefined;
  return spec?.language === CONJURE_LANGUAGE;
}

/**
 * Keeps the code cells of one notebook model highlighted by their first line.
 */
export class CellLanguages implements IDisposable {
  constructor(model: INotebookModel) {
    this._model = model;
    model.cells.changed.connect(this._onCellsChanged, this);
    model.metadataChanged.connect(this._onMetadataChanged, this);
    for (const cell of model.cells) {
      this._watch(cell);
    }
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _onCellsChanged(_: unknown, change: { type: string; newValues: ICellModel[] }): void {
    if (change.type === 'add' || change.type === 'set') {
      change.newValues.forEach(cell => this._watch(cell));
    }
  }

  private _onMetadataChanged(_: unknown, change: { key: string }): void {
    if (change.key === 'language_info' || change.key === 'kernelspec') {
      for (const cell of this._model.cells) {
        this._apply(cell);
      }
    }
  }

  private _watch(cell: ICellModel): void {
    if (cell.type !== 'code') {
      return;
    }
    // Connected with `this`, so `Signal.clearData(this)` in `dispose` drops them.
    cell.mimeTypeChanged.connect(() => this._apply(cell), this);
    cell.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        this._apply(cell);
      }
    }, this);
    this._apply(cell);
  }

  /**
   * Set the cell's MIME type; a no-op when it already has it (the model emits
   * nothing then), so correcting a reset cannot loop.
   */
  private _apply(cell: ICellModel): void {
    if (!this._isDisposed && cell.type === 'code' && isConjureNotebook(this._model)) {
      cell.mimeType = cellMimeType(cell.sharedModel.getSource());
    }
  }

  private _model: INotebookModel;
  private _isDisposed = false;
}
