/** The experiment list (one `li.mlvc-item[data-exp-id]` per experiment), its pager and compare bar. */
import * as React from 'react';
import { Button } from '@jupyterlab/ui-components';

import { PAGE_SIZE, SidebarModel } from '../model';
import { ExperimentSummary } from '../tokens';
import { age, plural, show } from './format';

/** What the list's buttons do; index.ts wires them to the notebook and the API. */
export interface IActions {
  tag(id: string): void;
  branch(id: string): void;
  copy(id: string): void;
  reproduceHere(id: string): void;
}

interface IItemProps {
  item: ExperimentSummary;
  selected: boolean;
  onSelect(on: boolean): void;
  actions: IActions;
}

function Action(props: {
  label: string;
  title: string;
  onClick(): void;
  className?: string;
}): JSX.Element {
  return (
    <Button
      minimal
      small
      className={`mlvc-button ${props.className ?? ''}`.trim()}
      title={props.title}
      onClick={event => {
        event.stopPropagation();
        props.onClick();
      }}
    >
      {props.label}
    </Button>
  );
}

function Item(props: IItemProps): JSX.Element {
  const { item, actions } = props;
  const metrics = Object.entries(item.metrics)
    .slice(0, 3)
    .map(([name, value]) => `${name}=${show(value)}`)
    .join('  ');
  return (
    <li className="mlvc-item" data-exp-id={item.id}>
      <div className="mlvc-item-head">
        <input
          type="checkbox"
          title="Select to compare"
          checked={props.selected}
          onChange={event => props.onSelect(event.target.checked)}
        />
        <span className="mlvc-id" title={item.id}>
          {item.id}
        </span>
        <span className={`mlvc-badge mlvc-${item.status}`}>{item.status}</span>
        <span className="mlvc-age" title={item.updated}>
          {age(item.updated)}
        </span>
      </div>
      <div className="mlvc-checkpoints">{plural(item.checkpoints, 'checkpoint')}</div>
      {item.name && item.name !== item.id ? <div className="mlvc-name">{item.name}</div> : null}
      {metrics ? <div className="mlvc-metrics">{metrics}</div> : null}
      {item.tags.length ? (
        <div className="mlvc-tags">
          {item.tags.map(tag => (
            <span key={tag} className="mlvc-tag">
              {tag}
            </span>
          ))}
        </div>
      ) : null}
      <div className="mlvc-actions">
        <Action label="Tag" title="Tag the last checkpoint" onClick={() => actions.tag(item.id)} />
        <Action
          label="Branch"
          title={`Create branch mlvc/${item.id}`}
          onClick={() => actions.branch(item.id)}
        />
        <Action label="Copy id" title="Copy the id" onClick={() => actions.copy(item.id)} />
        <Action
          label="Reproduce here"
          title="Insert %vc_reproduce below the active cell"
          className="mlvc-reproduce"
          onClick={() => actions.reproduceHere(item.id)}
        />
      </div>
    </li>
  );
}

function Pager(props: { model: SidebarModel; total: number }): JSX.Element {
  const { model, total } = props;
  const { offset } = model.query;
  const last = Math.min(offset + PAGE_SIZE, total);
  return (
    <div className="mlvc-pager">
      <Button
        minimal
        small
        disabled={offset === 0}
        title="Previous page"
        onClick={() => model.setQuery({ offset: offset - PAGE_SIZE })}
      >
        ‹ Prev
      </Button>
      <span className="mlvc-range">{`${total ? offset + 1 : 0}–${last} of ${total}`}</span>
      <Button
        minimal
        small
        disabled={last >= total}
        title="Next page"
        onClick={() => model.setQuery({ offset: offset + PAGE_SIZE })}
      >
        Next ›
      </Button>
    </div>
  );
}

/** "Compare N" once two or more experiments are selected. */
export function CompareBar(props: { model: SidebarModel }): JSX.Element | null {
  const count = props.model.selected.size;
  if (count < 2) {
    return null;
  }
  return (
    <div className="mlvc-compare-bar">
      <Button
        className="mlvc-compare-button"
        title="Compare the selected experiments"
        onClick={() => void props.model.compareSelected()}
      >
        {`Compare ${count}`}
      </Button>
    </div>
  );
}

export function ExperimentList(props: { model: SidebarModel; actions: IActions }): JSX.Element | null {
  const { model, actions } = props;
  const page = model.page;
  if (!page) {
    return null;
  }
  return (
    <>
      <ul className="mlvc-list">
        {page.items.length === 0 ? <li className="mlvc-empty">No experiments match.</li> : null}
        {page.items.map(item => (
          <Item
            key={item.id}
            item={item}
            actions={actions}
            selected={model.selected.has(item.id)}
            onSelect={on => model.toggle(item.id, on)}
          />
        ))}
      </ul>
      <Pager model={model} total={page.total} />
    </>
  );
}
