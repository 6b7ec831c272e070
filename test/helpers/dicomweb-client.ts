/** Small DICOMweb client pieces for tests: STOW bodies and QIDO calls over real HTTP. */
import { randomBytes } from 'node:crypto';

export type DicomJson = Record<
  string,
  { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }
>;

/** A multipart/related body of Part 10 instances and its Content-Type. */
export function multipartRelated(
  parts: Buffer[],
  options: { boundary?: string; quoted?: boolean; partType?: string } = {},
): { body: Buffer; contentType: string } {
  const boundary = options.boundary ?? `DICOMwebBoundary${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Type: ${options.partType ?? 'application/dicom'}\r\n\r\n`),
    );
    chunks.push(part, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  const b = options.quoted === false ? boundary : `"${boundary}"`;
  return {
    body: Buffer.concat(chunks),
    contentType: `multipart/related; type="application/dicom"; boundary=${b}`,
  };
}

export async function stow(
  dicomweb: string,
  parts: Buffer[],
  options: { study?: string; boundary?: string; quoted?: boolean } = {},
): Promise<{ status: number; json: DicomJson; headers: Headers }> {
  const { body, contentType } = multipartRelated(parts, options);
  const url = options.study ? `${dicomweb}/studies/${options.study}` : `${dicomweb}/studies`;
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  return {
    status: response.status,
    json: text ? (JSON.parse(text) as DicomJson) : {},
    headers: response.headers,
  };
}

export async function qido(url: string): Promise<DicomJson[]> {
  const response = await fetch(url, { headers: { accept: 'application/dicom+json' } });
  if (response.status !== 200)
    throw new Error(`QIDO ${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as DicomJson[];
}

/** First value of an attribute of a DICOM JSON dataset. */
export function value(dataset: DicomJson | undefined, tag: string): unknown {
  return dataset?.[tag]?.Value?.[0];
}

/** Items of a sequence attribute. */
export function items(dataset: DicomJson, tag: string): DicomJson[] {
  return (dataset[tag]?.Value ?? []) as DicomJson[];
}
