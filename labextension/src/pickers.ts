/**
 * A `%backend` or `%model` picker is a widget while its kernel lives; once the kernel
 * goes, its output keeps only the line it carries beside the widget view.
 *
 * The kernel redraws a live picker as that line when it shuts down, but a restart
 * from JupyterLab or Notebook 7 forgets the old kernel's display ids before it asks
 * for the restart, so that redraw is dropped, and the saved notebook would hold a
 * widget view that reads "Error displaying widget: model not found" after reopening.
 * When the kernel restarts, dies or is shut down, this drops the widget view from
 * every picker output (marked by the `conjure-picker` class of its HTML line).
 */

import { ICodeCellModel } from '@jupyterlab/cells';
import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookModel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';

/**
 * The MIME type of a widget view (ipywidgets).
 */
export const WIDGET_VIEW_MIME_TYPE = 'application/vnd.jupyter.widget-view+json';

/**
 * The class the kernel gives a picker's HTML line (`conjure_kernel/notebook/widgets/picker.py`).
 */
export const PICKER_CLASS = 'conjure-picker';

/**
 * Kernel states after which no widget of the old kernel can be drawn again.
 */
const GONE: ReadonlySet<Kernel.Status> = new Set(['restarting', 'autorestarting', 'dead']);

/**
 * Whether an output's data is a live picker: a widget view beside the picker's line.
 */
export function isLivePicker(data: Record<string, unknown>): boolean {
  const html = data['text/html'];
  const line = Array.isArray(html) ? html.join('') : html;
  return WIDGET_VIEW_MIME_TYPE in data && typeof line === 'string' && line.includes(PICKER_CLASS);
}

/**
 * Replace each live picker's output in `model` with its line; returns how many.
 */
export function freezePickers(model: INotebookModel): number {
  let frozen = 0;
  for (const cell of model.cells) {
    if (cell.type !== 'code') {
      continue;
    }
    const outputs = (cell as ICodeCellModel).outputs;
    for (let index = 0; index < outputs.length; index++) {
      const output = outputs.get(index).toJSON();
      const data = (output as { data?: Record<string, unknown> }).data;
      if (data && isLivePicker(data)) {
        const line = { ...data };
        delete line[WIDGET_VIEW_MIME_TYPE];
        outputs.set(index, { ...output, data: line } as typeof output);
        frozen++;
      }
    }
  }
  return frozen;
}

/**
 * Freeze the pickers of `model` whenever the kernel of `session` goes away.
 */
export function freezeWhenKernelGoes(session: ISessionContext, model: () => INotebookModel | null): void {
  const freeze = () => {
    const current = model();
    if (current !== null) {
      freezePickers(current);
    }
  };
  session.statusChanged.connect((_, status) => {
    if (GONE.has(status)) {
      freeze();
    }
  });
  session.kernelChanged.connect((_, change) => {
    if (change.oldValue !== null) {
      freeze();
    }
  });
}
