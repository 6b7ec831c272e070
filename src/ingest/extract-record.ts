/**
 * Turns a parsed instance into what the index stores: the attributes QIDO/C-FIND match and return,
 * decoded to UTF-8, and the precomputed DICOM JSON metadata retrieval serves.
 */
import type { ParsedDicom } from '../dicom/dataset-reader.js';
import { encodeDicomJson } from '../dicom/dicom-json.js';
import { computeFrameLayout } from '../dicom/frame-layout.js';
import { Tag } from '../dicom/tags.js';
import { getNumber, getString, getText, textDecoderFor } from '../dicom/values.js';
import type { InstanceRecord, InstanceStorage } from '../index/index-store.js';
import { normalizeDate, normalizeTime } from '../query/normalize.js';
import type { InstanceIdentity } from './outcome.js';

export interface FileFacts {
  fileKey: string;
  fileSize: number;
  sha256: string;
  datasetSha256: string;
}

export function extractRecord(
  parsed: ParsedDicom,
  identity: InstanceIdentity,
  file: FileFacts,
  source: InstanceRecord['source'],
): InstanceRecord {
  const ds = parsed.dataset;
  const decoder = textDecoderFor(ds);
  const text = (tag: number) => getText(ds, tag, decoder);
  const first = (tag: number) => getString(ds, tag, decoder);
  const integer = (tag: number) => {
    const n = getNumber(ds, tag);
    return n === undefined || !Number.isFinite(n) ? undefined : Math.trunc(n);
  };

  const { studyInstanceUid, seriesInstanceUid, sopInstanceUid, sopClassUid } = identity;
  const { json, bulk } = encodeDicomJson(ds, {
    bulkDataUriPrefix: `studies/${studyInstanceUid}/series/${seriesInstanceUid}/instances/${sopInstanceUid}/bulkdata/`,
  });
  // Retrieval serves the instance in the syntax it was received in (PS3.18 Table 10.6.3-5).
  json['00083002'] = { vr: 'UI', Value: [parsed.transferSyntax.uid] };
  const requestAttributes = json['00400275'];

  const frames = computeFrameLayout(ds, parsed.transferSyntax);
  const storage: InstanceStorage = {
    ...file,
    transferSyntaxUid: parsed.transferSyntax.uid,
    datasetOffset: parsed.datasetOffset,
    deflated: parsed.deflated,
    frames,
    // Pixel data fragments are already in the frame layout.
    bulk: bulk.map(({ fragments: _fragments, ...ref }) => ref),
  };

  return {
    patient: {
      patientId: first(Tag.PatientID) ?? '',
      issuerOfPatientId: first(Tag.IssuerOfPatientID) ?? '',
      patientName: text(Tag.PatientName),
      patientBirthDate: normalizeDate(first(Tag.PatientBirthDate)),
      patientSex: first(Tag.PatientSex),
    },
    study: {
      studyInstanceUid,
      studyDate: normalizeDate(first(Tag.StudyDate)),
      studyTime: normalizeTime(first(Tag.StudyTime)),
      accessionNumber: first(Tag.AccessionNumber),
      studyId: first(Tag.StudyID),
      studyDescription: text(Tag.StudyDescription),
      referringPhysicianName: text(Tag.ReferringPhysicianName),
      timezoneOffsetFromUtc: first(Tag.TimezoneOffsetFromUTC),
    },
    series: {
      seriesInstanceUid,
      modality: first(Tag.Modality),
      seriesNumber: integer(Tag.SeriesNumber),
      seriesDescription: text(Tag.SeriesDescription),
      seriesDate: normalizeDate(first(Tag.SeriesDate)),
      seriesTime: normalizeTime(first(Tag.SeriesTime)),
      performedProcedureStepStartDate: normalizeDate(first(Tag.PerformedProcedureStepStartDate)),
      performedProcedureStepStartTime: normalizeTime(first(Tag.PerformedProcedureStepStartTime)),
      bodyPartExamined: first(Tag.BodyPartExamined),
      requestAttributesJson: requestAttributes ? JSON.stringify(requestAttributes) : undefined,
    },
    instance: {
      sopInstanceUid,
      sopClassUid,
      instanceNumber: integer(Tag.InstanceNumber),
      rows: integer(Tag.Rows),
      columns: integer(Tag.Columns),
      bitsAllocated: integer(Tag.BitsAllocated),
      numberOfFrames: integer(Tag.NumberOfFrames),
      photometricInterpretation: first(Tag.PhotometricInterpretation),
      contentDate: normalizeDate(first(Tag.ContentDate)),
      contentTime: normalizeTime(first(Tag.ContentTime)),
    },
    storage,
    metadataJson: JSON.stringify(json),
    source,
  };
}
