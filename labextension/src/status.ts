/**
 * The session's backend and model, shown in the status bar of a Conjure notebook.
 *
 * The kernel registers the comm target `conjure.status`
 * (`conjure_kernel/notebook/status.py`). For each notebook whose kernel reports the
 * language `conjure`, `KernelStatus` opens a comm to it; the kernel answers with
 * `{backend, model}` at once and again after every change. A restart disposes the
 * comm along with the old kernel's state, so it is opened again once the new kernel
 * is idle, and the item shows the fresh session's settings.
 */

import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

/**
 * The comm target the kernel registers (`STATUS_TARGET` in status.py).
 */
export const STATUS_TARGET = 'conjure.status';

/**
 * The language a Conjure kernel reports in its `language_info`.
 */
export const CONJURE_LANGUAGE = 'conjure';

/**
 * What the kernel sends: where tool calls run and which model answers.
 */
export interface ISessionStatus {
  backend: string;
  model: string;
}

/**
 * The status of one notebook's kernel, kept current through the `conjure.status` comm.
 */
export class KernelStatus implements IDisposable {
  constructor(sessionContext: ISessionContext) {
    this._context = sessionContext;
    sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    sessionContext.statusChanged.connect(this._onKernelStatus, this);
    void this._open();
  }

  /**
   * The last status the kernel sent; null without a Conjure kernel (or while it restarts).
   */
  get status(): ISessionStatus | null {
    return this._status;
  }

  /**
   * Emitted whenever `status` changes.
   */
  get changed(): ISignal<this, ISessionStatus | null> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._closeComm();
    Signal.clearData(this);
  }

  private _onKernelChanged(): void {
    this._closeComm();
    this._set(null);
    void this._open();
  }

  private _onKernelStatus(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._ignored = null; // the restarted kernel may be a newer version: ask again
      this._set(null);
    } else if (status === 'idle' && (this._comm === null || this._comm.isDisposed)) {
      void this._open();
    }
  }

  /**
   * Open the comm if the kernel is a Conjure kernel and none is open yet.
   */
  private async _open(): Promise<void> {
    const kernel = this._context.session?.kernel;
    if (!kernel || !kernel.handleComms || this._opening === kernel || this._ignored === kernel) {
      return;
    }
    this._opening = kernel;
    try {
      const info = await kernel.info;
      if (info.language_info.name !== CONJURE_LANGUAGE) {
        this._ignored = kernel;
        return;
      }
      if (this._isDisposed || kernel !== this._context.session?.kernel) {
        return;
      }
      if (this._comm !== null && !this._comm.isDisposed) {
        return;
      }
      const comm = kernel.createComm(STATUS_TARGET);
      comm.onMsg = msg => {
        if (this._comm === comm) {
          this._set(Private.parse(msg.content.data));
        }
      };
      comm.onClose = () => {
        // The kernel closed it: a Conjure kernel without the target (an older
        // version); asking again after every cell would only fill its log.
        if (this._comm === comm) {
          this._comm = null;
          this._ignored = kernel;
          this._set(null);
        }
      };
      this._comm = comm;
      comm.open();
    } catch (reason) {
      // The kernel went away while we asked; the next kernel or restart tries again.
      console.debug('conjure-kernel: no status comm', reason);
    } finally {
      if (this._opening === kernel) {
        this._opening = null;
      }
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm !== null && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        comm.dispose(); // the kernel is gone: nothing to tell it
      }
    }
  }

  private _set(status: ISessionStatus | null): void {
    if (Private.same(status, this._status)) {
      return;
    }
    this._status = status;
    this._changed.emit(status);
  }

  private _context: ISessionContext;
  private _comm: Kernel.IComm | null = null;
  private _opening: Kernel.IKernelConnection | null = null;
  private _ignored: Kernel.IKernelConnection | null = null;
  private _status: ISessionStatus | null = null;
  private _changed = new Signal<this, ISessionStatus | null>(this);
  private _isDisposed = false;
}

/**
 * The status-bar item: `Conjure · backend · model` of the current notebook.
 */
export class StatusItem extends Widget {
  constructor() {
    super();
    this.addClass('jp-ConjureStatus');
    this._text = document.createElement('span');
    this._text.className = 'jp-StatusBar-TextItem jp-ConjureStatus-text';
    this.node.append(this._text);
  }

  /**
   * The notebook status to show, or null when the current widget is not a notebook.
   */
  get source(): KernelStatus | null {
    return this._source;
  }

  set source(source: KernelStatus | null) {
    if (source === this._source) {
      return;
    }
    this._source?.changed.disconnect(this._update, this);
    this._source = source;
    source?.changed.connect(this._update, this);
    this._update();
  }

  /**
   * Shown only while the current notebook has a Conjure kernel that sent its status.
   */
  isActive(): boolean {
    return Boolean(this._source?.status);
  }

  /**
   * Emitted when `isActive` may have changed, for the status bar to show or hide the item.
   */
  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  private _update(): void {
    const status = this._source?.status ?? null;
    this._text.textContent = status ? `Conjure · ${status.backend} · ${status.model}` : '';
    this.node.title = status
      ? `Tool calls run on the ${status.backend} backend; turns use ${status.model}. ` +
        'Change them with %backend and %model.'
      : '';
    this._activeStateChanged.emit();
  }

  private _text: HTMLElement;
  private _source: KernelStatus | null = null;
  private _activeStateChanged = new Signal<this, void>(this);
}

/**
 * The namespace for module-private helpers.
 */
namespace Private {
  /**
   * A status from a comm message; unknown fields read as empty strings.
   */
  export function parse(data: { [key: string]: unknown }): ISessionStatus {
    return { backend: String(data.backend ?? ''), model: String(data.model ?? '') };
  }

  export function same(a: ISessionStatus | null, b: ISessionStatus | null): boolean {
    return a === b || (a !== null && b !== null && a.backend === b.backend && a.model === b.model);
  }
}
