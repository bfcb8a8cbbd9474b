/** Search (its own row), status filter and refresh: JupyterLab's InputGroup, HTMLSelect, toolbar button. */
import * as React from 'react';
import {
  HTMLSelect,
  InputGroup,
  refreshIcon,
  searchIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';

import { SidebarModel } from '../model';

const STATUSES = [
  { value: '', label: 'any status' },
  { value: 'running', label: 'running' },
  { value: 'success', label: 'success' },
  { value: 'failed', label: 'failed' }
];
const DEBOUNCE_MS = 250;

/**
 * InputGroup and HTMLSelect put `className` on their wrapper; the tests (and users' CSS) find
 * the input and the select themselves by class, so the class goes on the inner element too.
 */
function useInnerClass<E extends HTMLElement>(className: string): React.RefObject<E> {
  const ref = React.useRef<E>(null);
  React.useEffect(() => ref.current?.classList.add(className), [className]);
  return ref;
}

export function Controls(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const [search, setSearch] = React.useState(model.query.search);
  const searchRef = useInnerClass<HTMLInputElement>('mlvc-search');
  const [status, setStatus] = React.useState(model.query.status);
  React.useEffect(() => {
    if (search === model.query.search) {
      return;
    }
    const timer = window.setTimeout(() => model.setQuery({ search }), DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [search, model]);
  return (
    <div className="mlvc-controls">
      <InputGroup
        className="mlvc-search-box"
        inputRef={searchRef}
        type="search"
        placeholder="Search id, name, message, tag"
        value={search}
        onChange={event => setSearch(event.target.value)}
        rightIcon={searchIcon}
      />
      <div className="mlvc-filter-row">
        <HTMLSelect
          className="mlvc-status-filter-box"
          elementRef={element => element?.classList.add('mlvc-status-filter')}
          aria-label="Status filter"
          options={STATUSES}
          value={status}
          onChange={event => {
            setStatus(event.target.value);
            model.setQuery({ status: event.target.value });
          }}
        />
        <ToolbarButtonComponent
          className="mlvc-refresh"
          icon={refreshIcon}
          tooltip="Refresh the list"
          onClick={() => void model.refresh()}
        />
      </div>
    </div>
  );
}
