/**
 * The JupyterLab plugins of conjure-kernel (the saved-turn renderer is the separate
 * mime extension in index.ts): the status-bar item, per-cell highlighting, and pickers
 * that leave their line when the kernel goes.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { CellLanguages, MARKDOWN_MIME_TYPE, PYTHON_MIME_TYPE } from './cellLanguage';
import { freezeWhenKernelGoes } from './pickers';
import { KernelStatus, StatusItem } from './status';

/**
 * `Conjure · backend · model` in the status bar while a Conjure notebook is current.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'conjure-kernel:status',
  description: "Shows the Conjure session's backend and model in the status bar.",
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, statusBar: IStatusBar | null) => {
    if (!statusBar) {
      return;
    }
    const statuses = new Map<NotebookPanel, KernelStatus>();
    const item = new StatusItem();
    // The notebook tracker keeps its last notebook current when, say, a text editor
    // gets the focus; the item follows the shell's current widget instead.
    const follow = () => {
      const current = app.shell.currentWidget;
      item.source = current instanceof NotebookPanel ? (statuses.get(current) ?? null) : null;
    };
    tracker.widgetAdded.connect((_, panel) => {
      statuses.set(panel, new KernelStatus(panel.sessionContext));
      panel.disposed.connect(() => {
        statuses.get(panel)?.dispose();
        statuses.delete(panel);
        follow();
      });
      follow();
    });
    app.shell.currentChanged?.connect(follow);
    tracker.currentChanged.connect(follow);
    statusBar.registerStatusItem(statusPlugin.id, {
      item,
      align: 'left',
      rank: 4,
      isActive: () => item.isActive(),
      activeStateChanged: item.activeStateChanged
    });
  }
};

/**
 * Chat cells highlighted as Markdown, `%%python` cells (and magics) as Python.
 */
const cellLanguagePlugin: JupyterFrontEndPlugin<void> = {
  id: 'conjure-kernel:cell-language',
  description: 'Highlights each code cell of a Conjure notebook by what the kernel makes of it.',
  autoStart: true,
  requires: [INotebookTracker, IEditorLanguageRegistry],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, languages: IEditorLanguageRegistry) => {
    // Both languages loaded up front: an editor loads the language of each MIME type
    // change asynchronously, and a slower load of the notebook's default could
    // otherwise land after the cell's own and win.
    const loaded = Promise.all([
      languages.getLanguage(PYTHON_MIME_TYPE),
      languages.getLanguage(MARKDOWN_MIME_TYPE)
    ]);
    tracker.widgetAdded.connect((_, panel) => {
      void Promise.all([loaded, panel.context.ready]).then(() => {
        const model = panel.content.model;
        if (panel.isDisposed || model === null) {
          return;
        }
        const cells = new CellLanguages(model);
        panel.disposed.connect(() => cells.dispose());
      });
    });
  }
};

/**
 * A `%backend`/`%model` picker left live becomes its line when the kernel goes.
 */
const pickerPlugin: JupyterFrontEndPlugin<void> = {
  id: 'conjure-kernel:pickers',
  description: "Keeps a picker's line, not a widget no new kernel can draw, once its kernel goes.",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.widgetAdded.connect((_, panel) => {
      freezeWhenKernelGoes(panel.sessionContext, () => panel.content.model);
    });
  }
};

export default [statusPlugin, cellLanguagePlugin, pickerPlugin];
