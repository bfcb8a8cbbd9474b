/** The compare view: for each experiment against the first, params, metrics with deltas, files. */
import * as React from 'react';
import { Button, closeIcon } from '@jupyterlab/ui-components';

import { SidebarModel } from '../model';
import { ExperimentDiff } from '../tokens';
import { show } from './format';

function Table(props: { title: string; head: string[]; rows: string[][] }): JSX.Element | null {
  if (props.rows.length === 0) {
    return null;
  }
  return (
    <div className="mlvc-diff-part">
      <h4>{props.title}</h4>
      <table className="mlvc-table">
        <thead>
          <tr>
            {props.head.map((cell, i) => (
              <th key={i}>{cell}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Diff(props: { diff: ExperimentDiff }): JSX.Element {
  const d = props.diff;
  const params = [
    ...Object.entries(d.params_changed).map(([k, [a, b]]) => [k, show(a), show(b)]),
    ...Object.entries(d.params_added).map(([k, b]) => [k, '', show(b)]),
    ...Object.entries(d.params_removed).map(([k, a]) => [k, show(a), ''])
  ];
  const metrics = Object.entries(d.metrics).map(([k, m]) => [
    k,
    show(m.a ?? ''),
    show(m.b ?? ''),
    m.delta === undefined || m.delta === null ? '' : show(m.delta)
  ]);
  const files = d.files.map(([change, path]) => [change, path]);
  const empty = params.length + metrics.length + files.length === 0;
  return (
    <section className="mlvc-diff">
      <h3>{`${d.a} → ${d.b}`}</h3>
      <Table title="Params" head={['param', d.a, d.b]} rows={params} />
      <Table title="Metrics" head={['metric', d.a, d.b, 'Δ']} rows={metrics} />
      <Table title="Files" head={['change', 'file']} rows={files} />
      {empty ? <p>No differences.</p> : null}
    </section>
  );
}

export function CompareView(props: { model: SidebarModel }): JSX.Element | null {
  const { model } = props;
  const compare = model.compare;
  if (!compare) {
    return null;
  }
  return (
    <div className="mlvc-compare">
      <div className="mlvc-compare-head">
        <h3>{`Compared with ${compare.a}`}</h3>
        <Button minimal small title="Close the comparison" onClick={() => model.closeCompare()}>
          <closeIcon.react tag="span" elementPosition="center" />
        </Button>
      </div>
      {compare.diffs.map(d => (
        <Diff key={`${d.a}:${d.b}`} diff={d} />
      ))}
    </div>
  );
}
