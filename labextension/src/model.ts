/**
 * The sidebar's state: the query, the page it answered, the repository status, the selection.
 * It polls while the panel is visible (paused when hidden) and says so through `changed`.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from './api';
import { ApiError } from './api';
import { CompareReply, ErrorDetail, ExperimentPage, Query, StatusReply } from './tokens';

export const PAGE_SIZE = 50;
const POLL_MS = 5000;

export class SidebarModel {
  readonly query: Query = { search: '', status: '', sort: '-created', offset: 0, limit: PAGE_SIZE };
  page: ExperimentPage | null = null;
  status: StatusReply | null = null;
  compare: CompareReply | null = null;
  error: ErrorDetail | null = null;
  readonly selected = new Set<string>();
  private _path = '';
  private _changed = new Signal<this, void>(this);
  private _poll: Poll;

  constructor() {
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: POLL_MS, backoff: true, max: 60 * 1000 },
      standby: 'when-hidden',
      auto: false
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The path (relative to the server root) whose repository is shown: the current notebook. */
  get path(): string {
    return this._path;
  }

  set path(value: string) {
    if (value !== this._path) {
      this._path = value;
      this.selected.clear();
      this.compare = null;
      void this.refresh();
    }
  }

  /** Poll while the panel is visible; stop while it is hidden. */
  setVisible(visible: boolean): void {
    if (visible) {
      void this._poll.start();
      void this.refresh();
    } else {
      void this._poll.stop();
    }
  }

  async check(): Promise<boolean> {
    try {
      await api.version();
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  async refresh(): Promise<void> {
    try {
      const [status, page] = await Promise.all([
        api.status(this._path),
        api.experiments(this._path, this.query)
      ]);
      this.status = status;
      this.page = page;
      this.error = null;
    } catch (error) {
      this.fail(error);
    }
    this._changed.emit();
  }

  setQuery(change: Partial<Query>): void {
    Object.assign(this.query, { offset: 0 }, change);
    void this.refresh();
  }

  toggle(id: string, on: boolean): void {
    if (on) {
      this.selected.add(id);
    } else {
      this.selected.delete(id);
    }
    this._changed.emit();
  }

  async compareSelected(): Promise<void> {
    const [first, ...others] = [...this.selected];
    if (!first || others.length === 0) {
      return;
    }
    try {
      this.compare = await api.diff(this._path, first, others);
      this.error = null;
    } catch (error) {
      this.fail(error);
    }
    this._changed.emit();
  }

  closeCompare(): void {
    this.compare = null;
    this._changed.emit();
  }

  fail(error: unknown): void {
    this.error =
      error instanceof ApiError
        ? error.detail
        : { type: 'Error', message: String(error), hint: null };
    this._changed.emit();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }
}
