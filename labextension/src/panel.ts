/**
 * The sidebar widget (id `mlvc-sidebar`): status header, search and status filter, a paged
 * experiment list with actions, and a compare view. Built with JupyterLab's own classes and
 * CSS variables; every string from git is set as text (textContent), never parsed as HTML.
 */
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { PAGE_SIZE, SidebarModel } from './model';
import { ExperimentDiff, ExperimentSummary } from './tokens';

/** What the list's buttons do; index.ts wires them to the notebook and the API. */
export interface IActions {
  tag(id: string): void;
  branch(id: string): void;
  copy(id: string): void;
  reproduceHere(id: string): void;
}

type Child = Node | string | null;

export function el(tag: string, className = '', ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  for (const child of children) {
    if (child !== null) {
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }
  return node;
}

function button(label: string, title: string, onClick: () => void, extra = ''): HTMLElement {
  const node = el('button', `jp-Button jp-mod-minimal mlvc-button ${extra}`.trim(), label);
  node.title = title;
  node.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return node;
}

export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  const steps: [number, string][] = [[86400, 'd'], [3600, 'h'], [60, 'min']];
  for (const [size, unit] of steps) {
    if (seconds >= size) {
      return `${Math.floor(seconds / size)} ${unit} ago`;
    }
  }
  return 'just now';
}

function show(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class SidebarPanel extends Widget {
  private header = el('div', 'mlvc-status');
  private errorBox = el('div', 'mlvc-error');
  private search = document.createElement('input');
  private statusFilter = document.createElement('select');
  private list = el('ul', 'mlvc-list');
  private pager = el('div', 'mlvc-pager');
  private compareBar = el('div', 'mlvc-compare-bar');
  private compareView = el('div', 'mlvc-compare');

  constructor(
    readonly model: SidebarModel,
    private actions: IActions
  ) {
    super();
    this.id = 'mlvc-sidebar';
    this.addClass('mlvc-sidebar');
    this.title.caption = 'Experiments (mlvc)';
    this.search.className = 'jp-mod-styled mlvc-search';
    this.search.placeholder = 'Search id, name, message, tag';
    this.search.addEventListener('input', () => this.debounceSearch());
    this.statusFilter.className = 'jp-mod-styled mlvc-status-filter';
    for (const value of ['', 'running', 'success', 'failed']) {
      this.statusFilter.append(new Option(value || 'any status', value));
    }
    this.statusFilter.addEventListener('change', () =>
      model.setQuery({ status: this.statusFilter.value })
    );
    const controls = el('div', 'mlvc-controls', this.search, this.statusFilter,
      button('Refresh', 'Refresh the list', () => void model.refresh()));
    this.node.append(el('h2', 'mlvc-title', 'Experiments'), this.header, this.errorBox, controls,
      this.compareBar, this.compareView, this.list, this.pager);
    model.changed.connect(this.render, this);
  }

  private timer = 0;

  private debounceSearch(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.model.setQuery({ search: this.search.value }), 250);
  }

  protected onAfterShow(msg: Message): void {
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    this.model.setVisible(false);
  }

  render(): void {
    this.renderError();
    this.renderStatus();
    this.renderList();
    this.renderCompare();
  }

  private renderError(): void {
    const error = this.model.error;
    this.errorBox.replaceChildren();
    this.errorBox.hidden = error === null;
    if (error) {
      this.errorBox.append(el('p', 'mlvc-error-message', error.message));
      if (error.hint) {
        this.errorBox.append(el('code', 'mlvc-error-hint', error.hint));
      }
    }
  }

  private renderStatus(): void {
    const s = this.model.status;
    this.header.replaceChildren();
    if (!s) {
      return;
    }
    const dirty = s.staged.length + s.modified.length + s.untracked.length;
    const row = (label: string, value: string) =>
      el('div', 'mlvc-status-row', el('span', 'mlvc-label', label), el('span', 'mlvc-value', value));
    this.header.append(
      row('Repository', s.root.split('/').pop() || s.root),
      row('Branch', s.detached ? 'detached' : s.branch ?? '(none)'),
      row('HEAD', s.head ? s.head.slice(0, 8) : '(no commit)'),
      row('Dirty', `${dirty} file${dirty === 1 ? '' : 's'}`),
      row('Active', s.active ?? (s.notebook ? 'none in this notebook' : 'open a notebook'))
    );
    this.header.dataset.active = s.active ?? '';
  }

  private renderList(): void {
    const page = this.model.page;
    this.list.replaceChildren();
    this.pager.replaceChildren();
    if (!page) {
      return;
    }
    if (page.items.length === 0) {
      this.list.append(el('li', 'mlvc-empty', 'No experiments match.'));
    }
    for (const item of page.items) {
      this.list.append(this.renderItem(item));
    }
    const { offset } = this.model.query;
    const last = Math.min(offset + PAGE_SIZE, page.total);
    this.pager.append(
      button('‹ Prev', 'Previous page', () => this.model.setQuery({ offset: offset - PAGE_SIZE }),
        offset === 0 ? 'mlvc-disabled' : ''),
      el('span', 'mlvc-range', `${page.total ? offset + 1 : 0}–${last} of ${page.total}`),
      button('Next ›', 'Next page', () => this.model.setQuery({ offset: offset + PAGE_SIZE }),
        last >= page.total ? 'mlvc-disabled' : '')
    );
    this.compareBar.replaceChildren();
    const count = this.model.selected.size;
    if (count >= 2) {
      this.compareBar.append(button(`Compare ${count}`, 'Compare the selected experiments',
        () => void this.model.compareSelected(), 'mlvc-compare-button'));
    }
  }

  private renderItem(item: ExperimentSummary): HTMLElement {
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.checked = this.model.selected.has(item.id);
    check.title = 'Select to compare';
    check.addEventListener('change', () => this.model.toggle(item.id, check.checked));
    const metrics = Object.entries(item.metrics).slice(0, 3)
      .map(([name, value]) => `${name}=${show(value)}`).join('  ');
    const li = el('li', 'mlvc-item',
      el('div', 'mlvc-item-head', check, el('span', 'mlvc-id', item.id),
        el('span', `mlvc-badge mlvc-${item.status}`, item.status),
        el('span', 'mlvc-age', age(item.updated))),
      el('div', 'mlvc-checkpoints', `${item.checkpoints} checkpoint${item.checkpoints === 1 ? '' : 's'}`),
      item.name && item.name !== item.id ? el('div', 'mlvc-name', item.name) : null,
      metrics ? el('div', 'mlvc-metrics', metrics) : null,
      item.tags.length ? el('div', 'mlvc-tags', ...item.tags.map(t => el('span', 'mlvc-tag', t))) : null,
      el('div', 'mlvc-actions',
        button('Tag', 'Tag the last checkpoint', () => this.actions.tag(item.id)),
        button('Branch', `Create branch mlvc/${item.id}`, () => this.actions.branch(item.id)),
        button('Copy id', 'Copy the id', () => this.actions.copy(item.id)),
        button('Reproduce here', 'Insert %vc_reproduce below the active cell',
          () => this.actions.reproduceHere(item.id), 'mlvc-reproduce')));
    li.dataset.expId = item.id;
    return li;
  }

  private renderCompare(): void {
    const compare = this.model.compare;
    this.compareView.replaceChildren();
    this.compareView.hidden = compare === null;
    if (!compare) {
      return;
    }
    this.compareView.append(el('div', 'mlvc-compare-head', el('h3', '', `Compared with ${compare.a}`),
      button('Close', 'Close the comparison', () => this.model.closeCompare())));
    for (const d of compare.diffs) {
      this.compareView.append(this.renderDiff(d));
    }
  }

  private renderDiff(d: ExperimentDiff): HTMLElement {
    const table = (title: string, head: string[], rows: string[][]) =>
      rows.length === 0 ? null : el('div', 'mlvc-diff-part', el('h4', '', title),
        el('table', 'mlvc-table',
          el('tr', '', ...head.map(h => el('th', '', h))),
          ...rows.map(r => el('tr', '', ...r.map(c => el('td', '', c))))));
    const params = [
      ...Object.entries(d.params_changed).map(([k, [a, b]]) => [k, show(a), show(b)]),
      ...Object.entries(d.params_added).map(([k, b]) => [k, '', show(b)]),
      ...Object.entries(d.params_removed).map(([k, a]) => [k, show(a), ''])
    ];
    const metrics = Object.entries(d.metrics).map(([k, m]) =>
      [k, show(m.a ?? ''), show(m.b ?? ''), m.delta === undefined || m.delta === null ? '' : show(m.delta)]);
    const files = d.files.map(([change, path]) => [change, path]);
    return el('section', 'mlvc-diff', el('h3', '', `${d.a} → ${d.b}`),
      table('Params', ['param', d.a, d.b], params),
      table('Metrics', ['metric', d.a, d.b, 'Δ'], metrics),
      table('Files', ['change', 'file'], files),
      params.length + metrics.length + files.length === 0 ? el('p', '', 'No differences.') : null);
  }

  dispose(): void {
    this.model.changed.disconnect(this.render, this);
    super.dispose();
  }
}
