/**
 * The mlvc-jupyter JupyterLab extension: the experiments sidebar (`mlvc-sidebar`), a
 * "record checkpoint" toolbar button on notebooks, and each notebook's kernel told its path.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Clipboard, InputDialog, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon, ToolbarButton } from '@jupyterlab/ui-components';

import * as api from './api';
import { ApiError } from './api';
import { SidebarModel } from './model';
import { IActions, SidebarPanel } from './panel';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
  '<circle cx="6" cy="5" r="2.5"/><circle cx="6" cy="19" r="2.5"/><circle cx="18" cy="9" r="2.5"/>' +
  '<path d="M5 7h2v10H5zM7 14c5 0 10-1 10-3v-1h2v1c0 4-7 5-12 5z"/></g></svg>';
export const mlvcIcon = new LabIcon({ name: 'mlvc-jupyter:icon', svgstr: ICON_SVG });

function message(error: unknown): string {
  if (error instanceof ApiError) {
    return error.detail.hint ? `${error.message} ${error.detail.hint}` : error.message;
  }
  return String(error);
}

/** Tell a notebook's kernel which notebook it runs (again after a rename or kernel change). */
function tellKernel(panel: NotebookPanel, root: string): void {
  const send = () => {
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      return;
    }
    const path = JSON.stringify(PathExt.join(root, panel.context.path));
    kernel.requestExecute({
      code: `__import__("os").environ["JPY_SESSION_NAME"] = ${path}`,
      silent: true,
      store_history: false
    });
  };
  panel.sessionContext.kernelChanged.connect(send);
  panel.sessionContext.statusChanged.connect((_, status) => {
    if (status === 'idle' && !sent.has(panel)) {
      sent.add(panel);
      send();
    }
  });
  panel.context.pathChanged.connect(send);
}
const sent = new WeakSet<NotebookPanel>();

function actions(model: SidebarModel, tracker: INotebookTracker | null): IActions {
  return {
    async tag(id) {
      const result = await InputDialog.getText({ title: `Tag ${id}`, placeholder: 'best' });
      if (!result.button.accept || !result.value) {
        return;
      }
      try {
        await api.tag(model.path, id, { tag: result.value });
        Notification.success(`Tagged ${id} as ${result.value}.`, { autoClose: 3000 });
        await model.refresh();
      } catch (error) {
        Notification.error(message(error));
      }
    },
    async branch(id) {
      try {
        const reply = await api.branch(model.path, id);
        Notification.success(`Created branch ${reply.branch}.`, { autoClose: 3000 });
      } catch (error) {
        Notification.error(message(error));
      }
    },
    copy(id) {
      Clipboard.copyToSystem(id);
      Notification.info(`Copied ${id}.`, { autoClose: 2000 });
    },
    reproduceHere(id) {
      const notebook = tracker?.currentWidget?.content;
      if (!notebook) {
        Notification.warning('Open a notebook first: the cell goes below its active cell.');
        return;
      }
      NotebookActions.insertBelow(notebook);
      notebook.activeCell?.model.sharedModel.setSource(`%vc_reproduce ${id}`);
    }
  };
}

function recordButton(panel: NotebookPanel, model: SidebarModel): ToolbarButton {
  return new ToolbarButton({
    className: 'mlvc-record-checkpoint',
    label: 'Record checkpoint',
    tooltip: "Record a checkpoint of this notebook's active experiment (mlvc)",
    onClick: async () => {
      try {
        const status = await api.status(panel.context.path);
        if (!status.active) {
          Notification.warning('No experiment is active in this notebook: run %vc_start EXP_ID.');
          return;
        }
        await api.commit(panel.context.path, status.active, { message: 'checkpoint from JupyterLab' });
        Notification.success(`Recorded a checkpoint of ${status.active}.`, { autoClose: 3000 });
        await model.refresh();
      } catch (error) {
        Notification.error(message(error));
      }
    }
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlvc-jupyter:sidebar',
  description: 'Experiments of mlvc-jupyter in a sidebar.',
  autoStart: true,
  requires: [ILabShell],
  optional: [INotebookTracker],
  activate: async (app: JupyterFrontEnd, shell: ILabShell, tracker: INotebookTracker | null) => {
    const model = new SidebarModel();
    const panel = new SidebarPanel(model, actions(model, tracker));
    panel.title.icon = mlvcIcon;
    shell.add(panel, 'left', { rank: 600 });
    const loaded = await model.check();
    if (!loaded || !tracker) {
      return;
    }
    const { root } = await api.version();
    tracker.currentChanged.connect((_, current) => {
      model.path = current ? current.context.path : '';
    });
    tracker.widgetAdded.connect((_, notebook) => {
      tellKernel(notebook, root);
      notebook.toolbar.insertItem(10, 'mlvcRecordCheckpoint', recordButton(notebook, model));
    });
    tracker.forEach(notebook => {
      tellKernel(notebook, root);
      notebook.toolbar.insertItem(10, 'mlvcRecordCheckpoint', recordButton(notebook, model));
    });
    model.path = tracker.currentWidget?.context.path ?? '';
    if (panel.isVisible) {
      model.setVisible(true);
    }
  }
};

export default plugin;
