/**
 * The one gateway to the server extension: every request of the sidebar goes through
 * requestAPI, the only caller of ServerConnection.makeRequest (token and XSRF come with it).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  BranchBody,
  CommitBody,
  CompareReply,
  ErrorDetail,
  ExperimentPage,
  ExperimentRecord,
  JobReply,
  Query,
  ReproduceBody,
  StatusReply,
  TagBody,
  VersionReply
} from './tokens';

export const API_VERSION = 1;

/** A failed request: the server's {type, message, hint}, or what went wrong reaching it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: ErrorDetail
  ) {
    super(detail.message);
  }

  /** True when the server answered, but not from mlvc (the extension is not loaded). */
  get extensionMissing(): boolean {
    return this.detail.type === 'ExtensionMissing';
  }
}

const MISSING: ErrorDetail = {
  type: 'ExtensionMissing',
  message: 'The mlvc server extension is not running in this Jupyter server.',
  hint:
    "pip install 'mlvc-jupyter[jupyter]' && jupyter server extension enable mlvc_jupyter, " +
    'then restart JupyterLab.'
};

async function requestAPI<T>(
  route: string,
  params: { [key: string]: string | number | undefined } = {},
  body?: object
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const query = Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  const url = URLExt.join(settings.baseUrl, 'mlvc', 'api', route) + (query ? `?${query}` : '');
  const init: RequestInit =
    body === undefined ? { method: 'GET' } : { method: 'POST', body: JSON.stringify(body) };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, {
      type: 'NetworkError',
      message: `Could not reach the Jupyter server: ${String(error)}`,
      hint: 'Check that JupyterLab is still running, then reload the page.'
    });
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, MISSING);
  }
  if (!response.ok) {
    const detail = (data as { error?: ErrorDetail } | null)?.error;
    throw new ApiError(response.status, detail && detail.message ? detail : MISSING);
  }
  return data as T;
}

const id = (experiment: string): string => encodeURIComponent(experiment);

export const version = (): Promise<VersionReply> => requestAPI<VersionReply>('version');

export const status = (path: string): Promise<StatusReply> =>
  requestAPI<StatusReply>('status', { path });

export const experiments = (path: string, query: Query): Promise<ExperimentPage> =>
  requestAPI<ExperimentPage>('experiments', { path, ...query });

export const show = (path: string, experiment: string): Promise<ExperimentRecord> =>
  requestAPI<ExperimentRecord>(`experiments/${id(experiment)}`, { path });

export const diff = (path: string, a: string, others: string[]): Promise<CompareReply> =>
  requestAPI<CompareReply>('diff', { path, a, b: others.join(',') });

export const tag = (path: string, experiment: string, body: TagBody): Promise<unknown> =>
  requestAPI(`experiments/${id(experiment)}/tag`, { path }, body);

export const branch = (path: string, experiment: string): Promise<{ branch: string }> =>
  requestAPI(`experiments/${id(experiment)}/branch`, { path }, {} as BranchBody);

export const reproduce = (path: string, experiment: string): Promise<JobReply> =>
  requestAPI<JobReply>(`experiments/${id(experiment)}/reproduce`, { path }, {} as ReproduceBody);

export const job = (jobId: string): Promise<JobReply> =>
  requestAPI<JobReply>(`jobs/${encodeURIComponent(jobId)}`);

export const commit = (path: string, experiment: string, body: CommitBody): Promise<unknown> =>
  requestAPI(`experiments/${id(experiment)}/commit`, { path }, body);
