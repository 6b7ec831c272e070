/**
 * The attributes the index can match and return, by query level (PS3.18 Tables 10.6.3-3/4/5, PS3.4
 * C.6.1.1 / C.6.2.1). QIDO and C-FIND both resolve their keys through this one catalog.
 */
import type { VR } from '../dicom/vr.js';

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

export const LEVEL_ORDER: Record<QueryLevel, number> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };

export type AttributeField =
  | 'patientName'
  | 'patientId'
  | 'issuerOfPatientId'
  | 'patientBirthDate'
  | 'patientSex'
  | 'numberOfPatientRelatedStudies'
  | 'numberOfPatientRelatedSeries'
  | 'numberOfPatientRelatedInstances'
  | 'studyInstanceUid'
  | 'studyDate'
  | 'studyTime'
  | 'accessionNumber'
  | 'studyId'
  | 'studyDescription'
  | 'referringPhysicianName'
  | 'timezoneOffsetFromUtc'
  | 'modalitiesInStudy'
  | 'numberOfStudyRelatedSeries'
  | 'numberOfStudyRelatedInstances'
  | 'seriesInstanceUid'
  | 'modality'
  | 'seriesNumber'
  | 'seriesDescription'
  | 'seriesDate'
  | 'seriesTime'
  | 'performedProcedureStepStartDate'
  | 'performedProcedureStepStartTime'
  | 'bodyPartExamined'
  | 'requestAttributesSequence'
  | 'numberOfSeriesRelatedInstances'
  | 'sopInstanceUid'
  | 'sopClassUid'
  | 'instanceNumber'
  | 'rows'
  | 'columns'
  | 'bitsAllocated'
  | 'numberOfFrames'
  | 'photometricInterpretation'
  | 'contentDate'
  | 'contentTime'
  | 'availableTransferSyntaxUid';

export interface CatalogEntry {
  tag: number;
  keyword: string;
  vr: VR;
  level: QueryLevel;
  field: AttributeField;
  /** Can be a matching key; counts and the request sequence can only be returned. */
  matchable: boolean;
}

const entry = (
  tag: number,
  keyword: string,
  vr: VR,
  level: QueryLevel,
  field: AttributeField,
  matchable = true,
): CatalogEntry => ({ tag, keyword, vr, level, field, matchable });

export const CATALOG: readonly CatalogEntry[] = [
  entry(0x00100010, 'PatientName', 'PN', 'PATIENT', 'patientName'),
  entry(0x00100020, 'PatientID', 'LO', 'PATIENT', 'patientId'),
  entry(0x00100021, 'IssuerOfPatientID', 'LO', 'PATIENT', 'issuerOfPatientId'),
  entry(0x00100030, 'PatientBirthDate', 'DA', 'PATIENT', 'patientBirthDate'),
  entry(0x00100040, 'PatientSex', 'CS', 'PATIENT', 'patientSex'),
  entry(0x00201200, 'NumberOfPatientRelatedStudies', 'IS', 'PATIENT', 'numberOfPatientRelatedStudies', false),
  entry(0x00201202, 'NumberOfPatientRelatedSeries', 'IS', 'PATIENT', 'numberOfPatientRelatedSeries', false),
  entry(
    0x00201204,
    'NumberOfPatientRelatedInstances',
    'IS',
    'PATIENT',
    'numberOfPatientRelatedInstances',
    false,
  ),

  entry(0x0020000d, 'StudyInstanceUID', 'UI', 'STUDY', 'studyInstanceUid'),
  entry(0x00080020, 'StudyDate', 'DA', 'STUDY', 'studyDate'),
  entry(0x00080030, 'StudyTime', 'TM', 'STUDY', 'studyTime'),
  entry(0x00080050, 'AccessionNumber', 'SH', 'STUDY', 'accessionNumber'),
  entry(0x00200010, 'StudyID', 'SH', 'STUDY', 'studyId'),
  entry(0x00081030, 'StudyDescription', 'LO', 'STUDY', 'studyDescription'),
  entry(0x00080090, 'ReferringPhysicianName', 'PN', 'STUDY', 'referringPhysicianName'),
  entry(0x00080201, 'TimezoneOffsetFromUTC', 'SH', 'STUDY', 'timezoneOffsetFromUtc'),
  entry(0x00080061, 'ModalitiesInStudy', 'CS', 'STUDY', 'modalitiesInStudy'),
  entry(0x00201206, 'NumberOfStudyRelatedSeries', 'IS', 'STUDY', 'numberOfStudyRelatedSeries', false),
  entry(0x00201208, 'NumberOfStudyRelatedInstances', 'IS', 'STUDY', 'numberOfStudyRelatedInstances', false),

  entry(0x0020000e, 'SeriesInstanceUID', 'UI', 'SERIES', 'seriesInstanceUid'),
  entry(0x00080060, 'Modality', 'CS', 'SERIES', 'modality'),
  entry(0x00200011, 'SeriesNumber', 'IS', 'SERIES', 'seriesNumber'),
  entry(0x0008103e, 'SeriesDescription', 'LO', 'SERIES', 'seriesDescription'),
  entry(0x00080021, 'SeriesDate', 'DA', 'SERIES', 'seriesDate'),
  entry(0x00080031, 'SeriesTime', 'TM', 'SERIES', 'seriesTime'),
  entry(0x00400244, 'PerformedProcedureStepStartDate', 'DA', 'SERIES', 'performedProcedureStepStartDate'),
  entry(0x00400245, 'PerformedProcedureStepStartTime', 'TM', 'SERIES', 'performedProcedureStepStartTime'),
  entry(0x00180015, 'BodyPartExamined', 'CS', 'SERIES', 'bodyPartExamined'),
  entry(0x00400275, 'RequestAttributesSequence', 'SQ', 'SERIES', 'requestAttributesSequence', false),
  entry(
    0x00201209,
    'NumberOfSeriesRelatedInstances',
    'IS',
    'SERIES',
    'numberOfSeriesRelatedInstances',
    false,
  ),

  entry(0x00080018, 'SOPInstanceUID', 'UI', 'IMAGE', 'sopInstanceUid'),
  entry(0x00080016, 'SOPClassUID', 'UI', 'IMAGE', 'sopClassUid'),
  entry(0x00200013, 'InstanceNumber', 'IS', 'IMAGE', 'instanceNumber'),
  entry(0x00280010, 'Rows', 'US', 'IMAGE', 'rows'),
  entry(0x00280011, 'Columns', 'US', 'IMAGE', 'columns'),
  entry(0x00280100, 'BitsAllocated', 'US', 'IMAGE', 'bitsAllocated'),
  entry(0x00280008, 'NumberOfFrames', 'IS', 'IMAGE', 'numberOfFrames'),
  entry(0x00280004, 'PhotometricInterpretation', 'CS', 'IMAGE', 'photometricInterpretation'),
  entry(0x00080023, 'ContentDate', 'DA', 'IMAGE', 'contentDate'),
  entry(0x00080033, 'ContentTime', 'TM', 'IMAGE', 'contentTime'),
  entry(0x00083002, 'AvailableTransferSyntaxUID', 'UI', 'IMAGE', 'availableTransferSyntaxUid'),
];

const BY_TAG = new Map(CATALOG.map((e) => [e.tag, e]));
const BY_KEYWORD = new Map(CATALOG.map((e) => [e.keyword, e]));

export function catalogByTag(tag: number): CatalogEntry | undefined {
  return BY_TAG.get(tag);
}

export function catalogByKeyword(keyword: string): CatalogEntry | undefined {
  return BY_KEYWORD.get(keyword);
}

/** Attributes every response at this level carries (PS3.18 Tables 10.6.3-3, -4, -5). */
export const DEFAULT_RETURN_KEYS: Record<Exclude<QueryLevel, 'PATIENT'>, number[]> = {
  STUDY: [
    0x00080020, 0x00080030, 0x00080050, 0x00080061, 0x00080090, 0x00080201, 0x00081030, 0x00100010,
    0x00100020, 0x00100030, 0x00100040, 0x0020000d, 0x00200010, 0x00201206, 0x00201208,
  ],
  SERIES: [
    0x00080021, 0x00080031, 0x00080060, 0x0008103e, 0x0020000e, 0x00200011, 0x00201209, 0x00400244,
    0x00400245, 0x00400275,
  ],
  IMAGE: [0x00080016, 0x00080018, 0x00083002, 0x00200013, 0x00280008, 0x00280010, 0x00280011, 0x00280100],
};

/** Attributes every Patient-level C-FIND response can carry. */
export const PATIENT_RETURN_KEYS = [0x00100010, 0x00100020, 0x00100021, 0x00100030, 0x00100040, 0x00201200];
