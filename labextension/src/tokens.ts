/**
 * The JSON of the REST API under /mlvc/api/, mirrored from mlvc_jupyter/server/payloads.py
 * (request bodies and replies) and mlvc_jupyter/core/records.py (ExperimentSummary).
 * tests/server/test_drift.py fails when the two sides disagree.
 */

/** POST experiments/{id}/tag */
export interface TagBody {
  tag: string;
  force?: boolean;
}

/** POST experiments/{id}/branch */
export interface BranchBody {}

/** POST experiments/{id}/reproduce */
export interface ReproduceBody {}

/** POST experiments/{id}/commit */
export interface CommitBody {
  message?: string;
}

/** GET version */
export interface VersionReply {
  version: string;
  api: number;
  root: string;
}

/** GET diff */
export interface CompareReply {
  a: string;
  diffs: ExperimentDiff[];
}

/** POST experiments/{id}/reproduce, GET jobs/{id} */
export interface JobReply {
  id: string;
  kind: string;
  experiment: string;
  state: 'running' | 'done' | 'failed';
  started: number;
  elapsed: number;
  result: { [key: string]: unknown } | null;
  error: ErrorDetail | null;
}

/** Every 4xx and 5xx answer. */
export interface ErrorReply {
  error: ErrorDetail;
}

export interface ErrorDetail {
  type: string;
  message: string;
  hint: string | null;
}

/** One experiment in a listing (core/records.py ExperimentSummary). */
export interface ExperimentSummary {
  id: string;
  name: string;
  status: string;
  created: string;
  updated: string;
  checkpoints: number;
  metrics: { [name: string]: unknown };
  tags: string[];
  branch: string | null;
  head: string | null;
  commit: string;
  message: string;
  extra: { [key: string]: unknown };
}

/** GET experiments/{id} (core/records.py ExperimentRecord; the sidebar reads a few fields). */
export interface ExperimentRecord {
  summary: ExperimentSummary;
  configs: { [key: string]: unknown };
  environment: { [key: string]: unknown };
  dirty_files: string[];
  large_files: { path: string; size: number }[];
  notebooks: { [key: string]: unknown }[];
  timings: { [phase: string]: number };
  details: { [key: string]: unknown };
  warnings: string[];
  worktree: string | null;
  /** Fingerprints of the data the experiment reads (core/data/fingerprint.py DataFingerprint). */
  data: DataFingerprint[];
}

/** One data file or folder as a record fingerprints it. */
export interface DataFingerprint {
  path: string;
  kind: 'file' | 'dir';
  size: number;
  mtime: number;
  sha256: string;
  files: number;
}

/** GET experiments */
export interface ExperimentPage {
  total: number;
  items: ExperimentSummary[];
  offset: number;
  limit: number | null;
}

/** GET status */
export interface StatusReply {
  root: string;
  branch: string | null;
  head: string | null;
  detached: boolean;
  staged: string[];
  modified: string[];
  untracked: string[];
  conflicted: string[];
  notebook: string | null;
  active: string | null;
}

/** One comparison of GET diff (core/records.py ExperimentDiff). */
export interface ExperimentDiff {
  a: string;
  b: string;
  params_added: { [key: string]: unknown };
  params_removed: { [key: string]: unknown };
  params_changed: { [key: string]: [unknown, unknown] };
  metrics: { [name: string]: { a?: unknown; b?: unknown; delta?: unknown } };
  files: [string, string][];
  /** Data paths whose fingerprints differ from a to b. */
  data: DataDrift[];
}

/** One data path whose content differs (core/data/fingerprint.py DataDrift). */
export interface DataDrift {
  path: string;
  change: 'added' | 'removed' | 'changed';
  recorded: DataFingerprint | null;
  current: DataFingerprint | null;
}

/** What the list asks for. */
export interface Query {
  search: string;
  status: string;
  sort: string;
  offset: number;
  limit: number;
}
