/**
 * WADO-RS metadata (PS3.18 10.4.1.1.2) from the DICOM JSON stored at ingest: no DICOM file is read.
 * Stored BulkDataURIs are relative to the DICOMweb root; they get the public base here. Responses are
 * cached by (scope version, base, format) with their compressed forms, so a viewer reopening a series
 * costs a cache lookup.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { DicomJsonDataset } from '../dicom/dicom-json.js';
import { dicomJsonToXml } from '../dicom/dicom-xml.js';
import { GatewayError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import { LruCache } from './lru-cache.js';

export type Scope = { studyInstanceUid: string; seriesInstanceUid?: string; sopInstanceUid?: string };

export interface MetadataBody {
  etag: string;
  /** JSON: one array. XML: one document per instance (the HTTP layer wraps them in a multipart body). */
  json?: Buffer;
  xml?: Buffer[];
  gzip?: Buffer;
  br?: Buffer;
}

export class MetadataService {
  private readonly cache = new LruCache<string, MetadataBody>(64 * 1024 * 1024, (body) => size(body));

  constructor(private readonly index: IndexStore) {}

  /**
   * Empties the cache. Entries are keyed by scope version, so stale ones are never served; this only
   * keeps deleted patients' metadata from lingering in memory.
   */
  forgetAll(): void {
    this.cache.clear();
  }

  /** The ETag the metadata of this scope would have now; 404 when the scope holds nothing. */
  etag(scope: Scope, base: string, format: 'json' | 'xml'): string {
    const version = this.index.scopeVersion(scope);
    if (!version) throw notFound(scope);
    return `W/"${format}-${version}-${hashText(base)}"`;
  }

  get(scope: Scope, base: string, format: 'json' | 'xml'): MetadataBody {
    const etag = this.etag(scope, base, format);
    const cached = this.cache.get(etag);
    if (cached) return cached;
    const prefix = JSON.stringify(`${base}/`).slice(1, -1);
    const items = this.index
      .listMetadata(scope)
      .map((json) => json.replaceAll('"BulkDataURI":"', `"BulkDataURI":"${prefix}`));
    if (items.length === 0) throw notFound(scope);
    const body: MetadataBody =
      format === 'json'
        ? { etag, json: Buffer.from(`[${items.join(',')}]`) }
        : {
            etag,
            xml: items.map((json) => Buffer.from(dicomJsonToXml(JSON.parse(json) as DicomJsonDataset))),
          };
    this.cache.set(etag, body);
    return body;
  }

  /** The JSON body compressed for the client, computed once per cached body. */
  compressed(body: MetadataBody, encoding: 'gzip' | 'br'): Buffer {
    if (!body.json) throw new Error('only JSON metadata is compressed here');
    if (encoding === 'gzip') body.gzip ??= gzipSync(body.json, { level: 6 });
    else body.br ??= brotliCompressSync(body.json, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } });
    this.cache.set(body.etag, body);
    return encoding === 'gzip' ? body.gzip! : body.br!;
  }
}

function size(body: MetadataBody): number {
  return (
    (body.json?.length ?? 0) +
    (body.xml?.reduce((sum, b) => sum + b.length, 0) ?? 0) +
    (body.gzip?.length ?? 0) +
    (body.br?.length ?? 0)
  );
}

function notFound(scope: Scope): GatewayError {
  const what = scope.sopInstanceUid
    ? `instance ${scope.sopInstanceUid}`
    : scope.seriesInstanceUid
      ? `series ${scope.seriesInstanceUid}`
      : `study ${scope.studyInstanceUid}`;
  return new GatewayError('NOT_FOUND', `${what} not found`);
}

function hashText(text: string): string {
  return createHash('sha1').update(text).digest('base64url').slice(0, 12);
}
