/** QIDO-RS searches: parse, run against the index, shape the results. No HTTP types here. */
import type { DicomJsonDataset } from '../dicom/dicom-json.js';
import type { IndexStore } from '../index/index-store.js';
import type { QueryLevel } from './attributes.js';
import { parseQido, type QidoOptions } from './qido-params.js';
import type { QuerySpec } from './query-model.js';
import { needsRepresentative, rowsToJson } from './query-result-json.js';

export interface SearchResult {
  results: DicomJsonDataset[];
  /** For Warning 299 headers: the server's maximum cut the result (PS3.18 8.3.4.4), parameters ignored. */
  warnings: string[];
}

export class SearchService {
  constructor(
    private readonly index: IndexStore,
    private readonly options: QidoOptions,
  ) {}

  search(
    level: Exclude<QueryLevel, 'PATIENT'>,
    scope: QuerySpec['scope'],
    pairs: [string, string][],
    retrieveBase: string,
  ): SearchResult {
    const { spec, includeFields, warnings, limitCappedByServer } = parseQido(
      level,
      scope,
      pairs,
      this.options,
    );
    spec.withRepresentative = needsRepresentative(level, includeFields);
    const { rows, more } = this.index.query(spec);
    const results = rowsToJson(rows, level, scope, includeFields, {
      retrieveBase,
      metadataOf: (sop) => {
        const text = this.index.getMetadata(sop);
        return text ? (JSON.parse(text) as DicomJsonDataset) : undefined;
      },
    });
    if (more && limitCappedByServer) {
      warnings.push(`the result was limited to ${spec.limit} matches; use offset to page through the rest`);
    }
    return { results, warnings };
  }
}
