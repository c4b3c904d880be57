import type { Source } from '../pipeline/sources/definition.js';
import { ArchiveConnector } from './archive.js';
import { DuneConnector } from './dune.js';
import { FilesConnector } from './files.js';
import { HttpConnector } from './http.js';
import { PostgresConnector } from './postgres.js';
import type { SourceConnector } from './source.js';

/** The connector reading `source`, by its `kind`: one line per connector. */
export function connectorFor(source: Source): SourceConnector {
  switch (source.kind) {
    case 'files': return new FilesConnector(source);
    case 'archive': return new ArchiveConnector(source);
    case 'http': return new HttpConnector(source);
    case 'postgres': return new PostgresConnector(source);
    case 'dune': return new DuneConnector(source);
  }
}
