/** The status header (repository, branch, HEAD, dirty count, active experiment) and the error box. */
import * as React from 'react';

import { ErrorDetail, StatusReply } from '../tokens';
import { plural } from './format';

function Row(props: { label: string; value: string }): JSX.Element {
  return (
    <div className="mlvc-status-row">
      <span className="mlvc-label">{props.label}</span>
      <span className="mlvc-value" title={props.value}>
        {props.value}
      </span>
    </div>
  );
}

/** `data-active` names the current notebook's active experiment (empty when none). */
export function StatusHeader(props: { status: StatusReply | null }): JSX.Element {
  const s = props.status;
  if (!s) {
    return <div className="mlvc-status" />;
  }
  const dirty = s.staged.length + s.modified.length + s.untracked.length;
  const active = s.active ?? (s.notebook ? 'none in this notebook' : 'open a notebook');
  return (
    <div className="mlvc-status" data-active={s.active ?? ''}>
      <Row label="Repository" value={s.root.split('/').pop() || s.root} />
      <Row label="Branch" value={s.detached ? 'detached' : s.branch ?? '(none)'} />
      <Row label="HEAD" value={s.head ? s.head.slice(0, 8) : '(no commit)'} />
      <Row label="Dirty" value={plural(dirty, 'file')} />
      <Row label="Active" value={active} />
    </div>
  );
}

/** What failed and, when the server knows it, the command that fixes it. */
export function ErrorBox(props: { error: ErrorDetail | null }): JSX.Element | null {
  const { error } = props;
  if (!error) {
    return null;
  }
  return (
    <div className="mlvc-error">
      <p className="mlvc-error-message">{error.message}</p>
      {error.hint ? <code className="mlvc-error-hint">{error.hint}</code> : null}
    </div>
  );
}
