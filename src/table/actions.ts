import type { DeletionVectorDescriptor } from './deletion-vector.js';

/**
 * Delta log actions (PROTOCOL.md, "Actions"). A commit file `_delta_log/%020d.json` holds one
 * action per line, each a JSON object with a single key naming the action.
 */

/** "Protocol Evolution": the reader/writer versions (and table features at 3/7) a client needs. */
export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

/** "Change Metadata": the table's id, schema, partition columns and configuration. */
export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: { provider: string; options: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

/** Per-file statistics ("Per-file Statistics"): counts and bounds of each leaf column. */
export interface FileStats {
  numRecords: number;
  minValues: Record<string, unknown>;
  maxValues: Record<string, unknown>;
  nullCount: Record<string, unknown>;
  tightBounds?: boolean;
}

/** "Add File and Remove File": a data file that is part of the table from this version on. */
export interface Add {
  /** URI-encoded path relative to the table root (or absolute URI). */
  path: string;
  /** Partition column → serialized value ("Partition Value Serialization"); null for NULL. */
  partitionValues: Record<string, string | null>;
  /** File size in bytes. */
  size: number;
  /** Milliseconds since epoch. */
  modificationTime: number;
  dataChange: boolean;
  /** JSON-encoded `FileStats`. */
  stats?: string | null;
  tags?: Record<string, string> | null;
  /** Rows of the file that are deleted ("Deletion Vectors"); with `path`, the logical file's identity. */
  deletionVector?: DeletionVectorDescriptor | null;
  baseRowId?: number | null;
  defaultRowCommitVersion?: number | null;
  clusteringProvider?: string | null;
}

/** A logical delete of a data file (a tombstone), kept until vacuum's retention passes. */
export interface Remove {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null>;
  size?: number;
  stats?: string | null;
  tags?: Record<string, string> | null;
  /** The deletion vector of the logical file removed: a remove only matches the add with the same one. */
  deletionVector?: DeletionVectorDescriptor | null;
}

/**
 * "Add CDC File": a change data file of its version (under `_change_data/`), whose rows carry
 * `_change_type` (`insert`, `update_preimage`, `update_postimage`, `delete`). When a version has
 * any, change data readers read that version's changes from them alone.
 */
export interface AddCDCFile {
  /** URI-encoded path relative to the table root. */
  path: string;
  partitionValues: Record<string, string | null>;
  /** Bytes. */
  size: number;
  /** Always false: change data files do not change the table's rows. */
  dataChange: false;
  tags?: Record<string, string> | null;
}

/** "Transaction Identifiers": the last version an application committed, for idempotent writes. */
export interface Txn {
  appId: string;
  version: number;
  lastUpdated?: number;
}

/**
 * "Domain Metadata": a named configuration string committed with the table (writer feature
 * `domainMetadata`). Domains named `delta.*` are system-controlled; others belong to applications
 * (ingot's are `ingot.*`). The latest action per domain wins; `removed: true` is a tombstone.
 */
export interface DomainMetadata {
  domain: string;
  configuration: string;
  removed: boolean;
}

/** "Commit Provenance Information": free-form; ingot writes operation, parameters, metrics, engine. */
export interface CommitInfo {
  timestamp?: number;
  operation?: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
  engineInfo?: string;
  isBlindAppend?: boolean;
  /** Free text a writer attaches (Spark: `spark.databricks.delta.commitInfo.userMetadata`). */
  userMetadata?: string;
  [key: string]: unknown;
}

/** One line of a commit file. Unknown action kinds are kept as-is and ignored by replay. */
export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: Add }
  | { remove: Remove }
  | { txn: Txn }
  | { commitInfo: CommitInfo }
  | { cdc: AddCDCFile }
  | { domainMetadata: DomainMetadata }
  | { checkpointMetadata: unknown }
  | { sidecar: unknown };

/** Serializes actions as newline-delimited JSON, the commit file format. */
export function encodeCommit(actions: Action[]): string {
  return actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
}

/** Parses a commit file. Throws with the line number on malformed JSON. */
export function decodeCommit(text: string, file: string): Action[] {
  const out: Action[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as Action);
    } catch (err) {
      throw new Error(`${file}: line ${i + 1} is not valid JSON (${(err as Error).message})`, { cause: err });
    }
  }
  return out;
}
