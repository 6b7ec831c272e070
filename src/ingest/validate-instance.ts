/**
 * The checks an instance must pass before it is stored: the four identifying UIDs present and well
 * formed (so none can become a path outside the data root), a SOP class we accept, and agreement with
 * what the request said it would be.
 */
import type { ParsedDicom } from '../dicom/dataset-reader.js';
import { Tag } from '../dicom/tags.js';
import { isValidUid } from '../dicom/uid.js';
import { getString, getStrings } from '../dicom/values.js';
import { GatewayError } from '../errors.js';
import type { InstanceIdentity } from './outcome.js';

export interface Expectations {
  /** From the C-STORE command (Affected SOP Class/Instance UID). */
  sopClassUid?: string;
  sopInstanceUid?: string;
  /** From the STOW-RS path /studies/{study}. */
  studyInstanceUid?: string;
}

const REQUIRED: [tag: number, name: string, key: keyof InstanceIdentity][] = [
  [Tag.SOPClassUID, 'SOP Class UID (0008,0016)', 'sopClassUid'],
  [Tag.SOPInstanceUID, 'SOP Instance UID (0008,0018)', 'sopInstanceUid'],
  [Tag.StudyInstanceUID, 'Study Instance UID (0020,000D)', 'studyInstanceUid'],
  [Tag.SeriesInstanceUID, 'Series Instance UID (0020,000E)', 'seriesInstanceUid'],
];

/** Whatever identifying UIDs can be read, valid or not, for failure reports. */
export function readIdentity(parsed: ParsedDicom): Partial<InstanceIdentity> {
  const out: Partial<InstanceIdentity> = {};
  for (const [tag, , key] of REQUIRED) {
    const value = getString(parsed.dataset, tag);
    if (value !== undefined && isValidUid(value)) out[key] = value;
  }
  return out;
}

export function validateInstance(
  parsed: ParsedDicom,
  expected: Expectations,
  acceptSopClass: (uid: string) => boolean,
): InstanceIdentity {
  const identity: Partial<InstanceIdentity> = {};
  for (const [tag, name, key] of REQUIRED) {
    const value = getString(parsed.dataset, tag);
    if (value === undefined) throw new GatewayError('INVALID_ATTRIBUTE', `${name} is missing`);
    // One value (VM 1): with a backslash, readers would disagree on which instance this is.
    if (getStrings(parsed.dataset, tag).length > 1) {
      throw new GatewayError('INVALID_ATTRIBUTE', `${name} has more than one value`);
    }
    if (!isValidUid(value)) {
      throw new GatewayError(
        'INVALID_ATTRIBUTE',
        `${name} is not a valid UID: ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
    identity[key] = value;
  }
  const id = identity as InstanceIdentity;

  if (expected.sopInstanceUid !== undefined && expected.sopInstanceUid !== id.sopInstanceUid) {
    throw new GatewayError(
      'DATASET_MISMATCH',
      `dataset SOP Instance UID ${id.sopInstanceUid} differs from the command's ${expected.sopInstanceUid}`,
    );
  }
  if (expected.sopClassUid !== undefined && expected.sopClassUid !== id.sopClassUid) {
    throw new GatewayError(
      'DATASET_MISMATCH',
      `dataset SOP Class UID ${id.sopClassUid} differs from the command's ${expected.sopClassUid}`,
    );
  }
  if (expected.studyInstanceUid !== undefined && expected.studyInstanceUid !== id.studyInstanceUid) {
    throw new GatewayError(
      'DATASET_MISMATCH',
      `Study Instance UID ${id.studyInstanceUid} differs from the study in the request path ${expected.studyInstanceUid}`,
    );
  }
  if (!acceptSopClass(id.sopClassUid)) {
    throw new GatewayError(
      'SOP_CLASS_NOT_SUPPORTED',
      `SOP class ${id.sopClassUid} is not accepted for storage`,
    );
  }
  return id;
}
