/**
 * The STOW-RS response (PS3.18 10.5.3, Annex I): a DICOM JSON dataset listing stored instances in
 * ReferencedSOPSequence and refused ones in FailedSOPSequence, and the HTTP status that goes with it.
 */
import type { DicomJsonAttribute, DicomJsonDataset } from '../dicom/dicom-json.js';
import { ERROR_TABLE, type GatewayError } from '../errors.js';
import type { InstanceIdentity, StoreOutcome } from '../ingest/outcome.js';

/** A part that never reached the pipeline (wrong media type in the part, broken multipart) also fails. */
export type PartResult =
  StoreOutcome | { ok: false; error: GatewayError; instance: Partial<InstanceIdentity>; bytes: number };

const ui = (value: string | undefined): DicomJsonAttribute =>
  value ? { vr: 'UI', Value: [value] } : { vr: 'UI' };

export function stowResponse(
  results: PartResult[],
  base: string,
  pathStudyUid: string | undefined,
): { status: number; body: DicomJsonDataset; warnings: string[] } {
  const referenced: DicomJsonDataset[] = [];
  const failed: DicomJsonDataset[] = [];
  const warnings: string[] = [];
  const studies = new Set<string>();

  for (const result of results) {
    if (result.ok) {
      const { instance } = result;
      studies.add(instance.studyInstanceUid);
      referenced.push({
        '00081150': ui(instance.sopClassUid),
        '00081155': ui(instance.sopInstanceUid),
        '00081190': {
          vr: 'UR',
          Value: [
            `${base}/studies/${instance.studyInstanceUid}/series/${instance.seriesInstanceUid}/instances/${instance.sopInstanceUid}`,
          ],
        },
      });
    } else {
      failed.push({
        '00081150': ui(result.instance.sopClassUid),
        '00081155': ui(result.instance.sopInstanceUid),
        '00081197': { vr: 'US', Value: [result.error.dimseStatus] },
      });
      warnings.push(`${result.instance.sopInstanceUid ?? 'part'}: ${result.error.message}`);
    }
  }

  const body: DicomJsonDataset = {};
  const studyUid = pathStudyUid ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (studyUid && referenced.length > 0)
    body['00081190'] = { vr: 'UR', Value: [`${base}/studies/${studyUid}`] };
  if (failed.length > 0) body['00081198'] = { vr: 'SQ', Value: failed };
  if (referenced.length > 0) body['00081199'] = { vr: 'SQ', Value: referenced };

  // PS3.18 10.5.3.1: 200 all stored, 202 some failed, 409 none stored; 507 when none could be stored
  // for lack of space, which tells the client to retry later rather than fix its data.
  const outOfSpace = results.some((r) => !r.ok && r.error.code === 'OUT_OF_RESOURCES');
  const status =
    failed.length === 0
      ? 200
      : referenced.length > 0
        ? 202
        : outOfSpace
          ? ERROR_TABLE.OUT_OF_RESOURCES.http
          : 409;
  return { status, body, warnings };
}
