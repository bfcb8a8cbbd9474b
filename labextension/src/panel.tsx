/**
 * The sidebar widget (id `mlvc-sidebar`): status header, search and status filter, a paged
 * experiment list with actions, and a compare view. React views (src/components/) built from
 * JupyterLab's ui-components and CSS variables, re-rendered on the model's `changed` signal.
 * Strings from git are React text children, never HTML.
 */
import * as React from 'react';
import { Message } from '@lumino/messaging';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';

import { CompareView } from './components/compare';
import { Controls } from './components/controls';
import { ErrorBox, StatusHeader } from './components/header';
import { CompareBar, ExperimentList, IActions } from './components/list';
import { SidebarModel } from './model';

export { IActions };

export class SidebarPanel extends ReactWidget {
  constructor(
    readonly model: SidebarModel,
    private actions: IActions
  ) {
    super();
    this.id = 'mlvc-sidebar';
    this.addClass('mlvc-sidebar');
    this.title.caption = 'Experiments (mlvc)';
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected render(): JSX.Element {
    const { model, actions } = this;
    return (
      <>
        <h2 className="mlvc-title">Experiments</h2>
        <UseSignal signal={model.changed}>
          {() => (
            <>
              <StatusHeader status={model.status} />
              <ErrorBox error={model.error} />
              <Controls model={model} />
              <CompareBar model={model} />
              <CompareView model={model} />
              <ExperimentList model={model} actions={actions} />
            </>
          )}
        </UseSignal>
      </>
    );
  }
}
