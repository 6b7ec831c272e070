/**
 * The index interface: what ingest writes and what query/retrieve read. SQLite implements it; a
 * PostgreSQL index can implement it later without touching ingest, query or the adapters.
 */
import type { FrameLayout } from '../dicom/frame-layout.js';
import type { BulkDataRef } from '../dicom/dicom-json.js';
import type { QuerySpec, QueryResult } from '../query/query-model.js';

export interface PatientAttributes {
  patientId: string;
  issuerOfPatientId: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
}

export interface StudyAttributes {
  studyInstanceUid: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyId?: string;
  studyDescription?: string;
  referringPhysicianName?: string;
  timezoneOffsetFromUtc?: string;
}

export interface SeriesAttributes {
  seriesInstanceUid: string;
  modality?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  seriesDate?: string;
  seriesTime?: string;
  performedProcedureStepStartDate?: string;
  performedProcedureStepStartTime?: string;
  bodyPartExamined?: string;
  /** DICOM JSON of the Request Attributes Sequence (0040,0275), which QIDO returns at series level. */
  requestAttributesJson?: string;
}

export interface InstanceAttributes {
  sopInstanceUid: string;
  sopClassUid: string;
  instanceNumber?: number;
  rows?: number;
  columns?: number;
  bitsAllocated?: number;
  numberOfFrames?: number;
  photometricInterpretation?: string;
  contentDate?: string;
  contentTime?: string;
}

/** Where an instance's bytes are and what retrieval needs to read them without parsing. */
export interface InstanceStorage {
  fileKey: string;
  fileSize: number;
  /** SHA-256 of the whole file, for verification. */
  sha256: string;
  /** SHA-256 of the dataset without File Meta Information, for telling duplicates from conflicts. */
  datasetSha256: string;
  transferSyntaxUid: string;
  /** Offset of the dataset (after File Meta Information) in the file. */
  datasetOffset: number;
  /** Element offsets count from the start of the inflated dataset (Deflated Explicit VR Little Endian). */
  deflated: boolean;
  frames: FrameLayout;
  bulk: BulkDataRef[];
}

export interface InstanceRecord {
  patient: PatientAttributes;
  study: StudyAttributes;
  series: SeriesAttributes;
  instance: InstanceAttributes;
  storage: InstanceStorage;
  /** The instance's DICOM JSON (PS3.18 F), with BulkDataURIs relative to the DICOMweb root. */
  metadataJson: string;
  /** Which door it came in by, and from whom (for audit and metrics). */
  source: { door: string; callingAETitle?: string };
}

export interface StoredInstanceRef {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  storage: InstanceStorage;
  receivedAt: string;
}

export type IndexWriteResult = 'inserted' | 'replaced';

export interface IndexStore {
  /** Adds an instance, or replaces the row with the same SOP Instance UID; one transaction. */
  putInstance(record: InstanceRecord): IndexWriteResult;
  /** The stored instance with this SOP Instance UID, if any. */
  getInstance(sopInstanceUid: string): StoredInstanceRef | undefined;
  /** Instances in a study, a series, or one instance, in series then instance number order. */
  listInstances(scope: {
    studyInstanceUid: string;
    seriesInstanceUid?: string;
    sopInstanceUid?: string;
  }): StoredInstanceRef[];
  /** The stored DICOM JSON of the instances in scope, in the same order as listInstances. */
  listMetadata(scope: {
    studyInstanceUid: string;
    seriesInstanceUid?: string;
    sopInstanceUid?: string;
  }): string[];
  /**
   * A token that changes whenever the instances in scope change (added, replaced, removed), for ETags;
   * undefined when the scope holds no instance.
   */
  scopeVersion(scope: {
    studyInstanceUid: string;
    seriesInstanceUid?: string;
    sopInstanceUid?: string;
  }): string | undefined;
  /** The stored DICOM JSON of one instance. */
  getMetadata(sopInstanceUid: string): string | undefined;
  /** Runs a QIDO / C-FIND query. */
  query(spec: QuerySpec): QueryResult;
  /**
   * Removes instance rows (and emptied series, studies, patients) in one transaction; returns the file
   * keys, which stay queued in pendingFileRemovals until completeFileRemovals is called for them.
   */
  deleteInstances(scope: {
    studyInstanceUid: string;
    seriesInstanceUid?: string;
    sopInstanceUid?: string;
  }): string[];
  /**
   * Files of deleted or replaced instances not yet confirmed removed (a crash can come between the index
   * transaction and the file removal); never a key an indexed instance uses.
   */
  pendingFileRemovals(): string[];
  /** Whether an indexed instance uses this file. */
  isFileIndexed(fileKey: string): boolean;
  /**
   * Resolves once every write made so far survives a power loss, not only a crash of the process (a
   * SQLite commit with synchronous=NORMAL is durable once its log is synced). `now` asks for that at
   * once; otherwise it comes with the next periodic checkpoint, within about a second.
   */
  durable(now?: boolean): Promise<void>;
  /** Confirms these files are gone from the store. */
  completeFileRemovals(fileKeys: string[]): void;
  /** Every indexed file key with its expected size and hash, for verification. */
  listFiles(): Iterable<{ fileKey: string; fileSize: number; sha256: string; sopInstanceUid: string }>;
  /** Counts for metrics and reports. */
  counts(): { patients: number; studies: number; series: number; instances: number; bytes: number };
  /** Checks the index can be written, for readiness probes. */
  checkWritable(): void;
  close(): Promise<void>;
}
