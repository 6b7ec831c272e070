/**
 * The SQLite index (better-sqlite3, WAL, synchronous=NORMAL). Every write is one transaction; counts
 * and ModalitiesInStudy are kept current inside it, so readers never see a half-applied instance.
 */
import Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import type { QueryResult, QuerySpec } from '../query/query-model.js';
import { personNameFuzzyKey, personNameMatchKey } from '../query/normalize.js';
import type {
  IndexStore,
  IndexWriteResult,
  InstanceRecord,
  InstanceStorage,
  StoredInstanceRef,
} from './index-store.js';
import { decodeMetadata, encodeMetadata, METADATA_CODEC } from './metadata-codec.js';
import { MIGRATIONS } from './schema.js';
import { runQuery } from './sqlite-query.js';
import { StatementCache } from './statement-cache.js';
import { WAL_SIZE_LIMIT_BYTES, WalCheckpointer } from './wal-checkpointer.js';

type Scope = { studyInstanceUid: string; seriesInstanceUid?: string; sopInstanceUid?: string };

interface InstanceRow {
  pk: number;
  series_pk: number;
  sop_uid: string;
  sop_class_uid: string;
  transfer_syntax: string;
  file_key: string;
  file_size: number;
  sha256: string;
  dataset_sha256: string;
  dataset_offset: number;
  deflated: number;
  frames: string;
  bulk: string;
  received_at: string;
  series_uid: string;
  study_uid: string;
}

/** The patient attributes a later instance may fill in when the first ones lacked them. */
interface PatientFillRow {
  pk: number;
  patient_name: string | null;
  birth_date: string | null;
  sex: string | null;
}

/** The study attributes a later instance may fill in when the first ones lacked them. */
interface StudyFillRow {
  pk: number;
  study_date: string | null;
  study_time: string | null;
  accession: string | null;
  study_id: string | null;
  description: string | null;
  referring_physician: string | null;
  timezone: string | null;
}

/** Whether an incoming value would fill a stored one (attributes are filled in, never overwritten). */
function fills(stored: string | null, incoming: string | null): boolean {
  return stored === null && incoming !== null;
}

const INSTANCE_COLUMNS = `i.pk, i.series_pk, i.sop_uid, i.sop_class_uid, i.transfer_syntax, i.file_key, i.file_size,
  i.sha256, i.dataset_sha256, i.dataset_offset, i.deflated, i.frames, i.bulk, i.received_at, se.series_uid, s.study_uid`;

const INSTANCE_JOIN = `FROM instances i JOIN series se ON se.pk = i.series_pk JOIN studies s ON s.pk = se.study_pk`;

const INSTANCE_ORDER = `ORDER BY se.series_number IS NULL, se.series_number, se.pk, i.instance_number IS NULL,
  i.instance_number, i.pk`;

export interface SqliteIndexOptions {
  readonly?: boolean;
  /** WAL checkpoint cadence (tests shorten it). */
  walCheckpoint?: { intervalMs?: number; restartFrames?: number };
}

export class SqliteIndex implements IndexStore {
  readonly db: Database.Database;
  private readonly statements;
  private readonly cached: StatementCache;
  private readonly checkpointer: WalCheckpointer | undefined;

  constructor(
    readonly path: string,
    options: SqliteIndexOptions = {},
  ) {
    this.db = new Database(path, { readonly: options.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('wal_autocheckpoint = 0');
      this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      this.migrate();
      this.checkpointer = new WalCheckpointer(
        path,
        options.walCheckpoint?.intervalMs,
        options.walCheckpoint?.restartFrames,
      );
    }
    this.statements = this.prepare();
    this.cached = new StatementCache(this.db);
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(`index ${this.path} has schema version ${version}, newer than this gateway knows`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      upsertPatient: db.prepare(`
        INSERT INTO patients (patient_id, issuer, patient_name, patient_name_ci, patient_name_fuzzy, birth_date, sex)
        VALUES (@patientId, @issuer, @name, @nameCi, @nameFuzzy, @birthDate, @sex)
        ON CONFLICT (patient_id, issuer) DO UPDATE SET
          patient_name = COALESCE(patients.patient_name, excluded.patient_name),
          patient_name_ci = COALESCE(patients.patient_name_ci, excluded.patient_name_ci),
          patient_name_fuzzy = COALESCE(patients.patient_name_fuzzy, excluded.patient_name_fuzzy),
          birth_date = COALESCE(patients.birth_date, excluded.birth_date),
          sex = COALESCE(patients.sex, excluded.sex)
        RETURNING pk`),
      findPatient: db.prepare(
        `SELECT pk, patient_name, birth_date, sex FROM patients WHERE patient_id = ? AND issuer = ?`,
      ),
      findStudy: db.prepare(`SELECT pk, study_date, study_time, accession, study_id, description,
        referring_physician, timezone FROM studies WHERE study_uid = ?`),
      insertStudy: db.prepare(`
        INSERT INTO studies (patient_pk, study_uid, patient_id, issuer, patient_name, patient_name_ci,
          patient_name_fuzzy, birth_date, sex, study_date, study_time, accession, study_id, description,
          description_ci, referring_physician, referring_physician_ci, referring_physician_fuzzy, timezone, updated_at)
        VALUES (@patientPk, @uid, @patientId, @issuer, @name, @nameCi, @nameFuzzy, @birthDate, @sex, @date, @time,
          @accession, @studyId, @description, @descriptionCi, @referring, @referringCi, @referringFuzzy, @timezone,
          @now)`),
      fillStudy: db.prepare(`
        UPDATE studies SET
          study_date = COALESCE(study_date, @date), study_time = COALESCE(study_time, @time),
          accession = COALESCE(accession, @accession), study_id = COALESCE(study_id, @studyId),
          description = COALESCE(description, @description), description_ci = COALESCE(description_ci, @descriptionCi),
          referring_physician = COALESCE(referring_physician, @referring),
          referring_physician_ci = COALESCE(referring_physician_ci, @referringCi),
          referring_physician_fuzzy = COALESCE(referring_physician_fuzzy, @referringFuzzy),
          timezone = COALESCE(timezone, @timezone), updated_at = @now
        WHERE pk = @pk`),
      findSeries:
        db.prepare(`SELECT se.pk, se.study_pk, s.study_uid FROM series se JOIN studies s ON s.pk = se.study_pk
        WHERE se.series_uid = ?`),
      insertSeries: db.prepare(`
        INSERT INTO series (study_pk, series_uid, modality, series_number, description, description_ci, series_date,
          series_time, pps_start_date, pps_start_time, body_part, request_attributes, updated_at)
        VALUES (@studyPk, @uid, @modality, @number, @description, @descriptionCi, @date, @time, @ppsDate, @ppsTime,
          @bodyPart, @requestAttributes, @now)`),
      findInstance: db.prepare(`SELECT pk, series_pk, file_key FROM instances WHERE sop_uid = ?`),
      addPendingRemoval: db.prepare(`INSERT OR IGNORE INTO pending_file_removals (file_key) VALUES (?)`),
      fileIndexed: db.prepare(`SELECT 1 FROM instances WHERE file_key = ?`),
      dropPendingRemoval: db.prepare(`DELETE FROM pending_file_removals WHERE file_key = ?`),
      listPendingRemovals: db.prepare(`SELECT p.file_key AS fileKey FROM pending_file_removals p
        WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.file_key = p.file_key) ORDER BY p.file_key`),
      dropReferencedRemovals: db.prepare(`DELETE FROM pending_file_removals
        WHERE EXISTS (SELECT 1 FROM instances i WHERE i.file_key = pending_file_removals.file_key)`),
      insertInstance: db.prepare(`
        INSERT INTO instances (series_pk, sop_uid, sop_class_uid, instance_number, rows, columns, bits_allocated,
          number_of_frames, photometric, content_date, content_time, transfer_syntax, file_key, file_size, sha256,
          dataset_sha256, dataset_offset, deflated, frames, bulk, metadata, metadata_codec, received_at, door, calling_ae)
        VALUES (@seriesPk, @sopUid, @sopClassUid, @instanceNumber, @rows, @columns, @bitsAllocated, @numberOfFrames,
          @photometric, @contentDate, @contentTime, @transferSyntax, @fileKey, @fileSize, @sha256, @datasetSha256, @datasetOffset,
          @deflated, @frames, @bulk, @metadata, @metadataCodec, @now, @door, @callingAe)`),
      bumpSeries: db.prepare(
        `UPDATE series SET num_instances = num_instances + ?, updated_at = ? WHERE pk = ?`,
      ),
      bumpStudy:
        db.prepare(`UPDATE studies SET num_instances = num_instances + ?, num_series = num_series + ?,
        updated_at = ? WHERE pk = ?`),
      refreshModalities: db.prepare(`
        UPDATE studies SET modalities = COALESCE((SELECT group_concat(modality, '\\') FROM
          (SELECT DISTINCT modality FROM series WHERE study_pk = @pk AND modality IS NOT NULL AND modality <> ''
           ORDER BY modality)), '') WHERE pk = @pk`),
      getInstance: db.prepare(`SELECT ${INSTANCE_COLUMNS} ${INSTANCE_JOIN} WHERE i.sop_uid = ?`),
      getMetadata: db.prepare(`SELECT metadata, metadata_codec FROM instances WHERE sop_uid = ?`),
      deleteInstance: db.prepare(`DELETE FROM instances WHERE pk = ?`),
      seriesOf: db.prepare(`SELECT study_pk, num_instances FROM series WHERE pk = ?`),
      studyOf: db.prepare(`SELECT patient_pk, num_instances FROM studies WHERE pk = ?`),
      deleteSeries: db.prepare(`DELETE FROM series WHERE pk = ?`),
      deleteStudy: db.prepare(`DELETE FROM studies WHERE pk = ?`),
      deletePatientIfEmpty: db.prepare(`DELETE FROM patients WHERE pk = ? AND NOT EXISTS
        (SELECT 1 FROM studies WHERE patient_pk = ?)`),
      listFiles:
        db.prepare(`SELECT file_key AS fileKey, file_size AS fileSize, sha256, sop_uid AS sopInstanceUid
        FROM instances ORDER BY pk`),
      counts:
        db.prepare(`SELECT (SELECT count(*) FROM patients) AS patients, (SELECT count(*) FROM studies) AS studies,
        (SELECT count(*) FROM series) AS series, (SELECT count(*) FROM instances) AS instances,
        (SELECT COALESCE(sum(file_size), 0) FROM instances) AS bytes`),
    };
  }

  /**
   * BEGIN IMMEDIATE: a transaction that reads before it writes would otherwise have to upgrade its read
   * lock, and SQLite answers that with SQLITE_BUSY at once (no busy wait) while the checkpointer's
   * RESTART holds writers back for a moment.
   */
  private writeTransaction<T>(body: () => T): T {
    return this.db.transaction(body).immediate();
  }

  putInstance(record: InstanceRecord): IndexWriteResult {
    const result = this.writeTransaction(() => this.putInstanceInTransaction(record));
    this.checkpointer?.noteWrite();
    return result;
  }

  private putInstanceInTransaction(record: InstanceRecord): IndexWriteResult {
    const s = this.statements;
    const now = new Date().toISOString();
    const { patient, study, series, instance, storage } = record;

    const existingSeries = s.findSeries.get(series.seriesInstanceUid) as
      { pk: number; study_pk: number; study_uid: string } | undefined;
    if (existingSeries && existingSeries.study_uid !== study.studyInstanceUid) {
      throw new GatewayError(
        'DATASET_MISMATCH',
        `series ${series.seriesInstanceUid} is already stored in another study (${existingSeries.study_uid})`,
      );
    }

    let result: IndexWriteResult = 'inserted';
    const existingInstance = s.findInstance.get(instance.sopInstanceUid) as
      { pk: number; series_pk: number; file_key: string } | undefined;
    if (existingInstance) {
      this.removeInstanceRows([existingInstance], now);
      result = 'replaced';
    }

    const patientParams = {
      patientId: patient.patientId,
      issuer: patient.issuerOfPatientId,
      name: patient.patientName ?? null,
      nameCi: personNameMatchKey(patient.patientName, true) ?? null,
      nameFuzzy: personNameFuzzyKey(patient.patientName) ?? null,
      birthDate: patient.patientBirthDate ?? null,
      sex: patient.patientSex ?? null,
    };
    // Rows already complete are not written again: each write dirties pages the commit must log.
    const knownPatient = s.findPatient.get(patientParams.patientId, patientParams.issuer) as
      PatientFillRow | undefined;
    const patientPk =
      knownPatient &&
      !fills(knownPatient.patient_name, patientParams.name) &&
      !fills(knownPatient.birth_date, patientParams.birthDate) &&
      !fills(knownPatient.sex, patientParams.sex)
        ? knownPatient.pk
        : (s.upsertPatient.get(patientParams) as { pk: number }).pk;

    const studyParams = {
      date: study.studyDate ?? null,
      time: study.studyTime ?? null,
      accession: study.accessionNumber ?? null,
      studyId: study.studyId ?? null,
      description: study.studyDescription ?? null,
      descriptionCi: study.studyDescription?.toLowerCase() ?? null,
      referring: study.referringPhysicianName ?? null,
      referringCi: personNameMatchKey(study.referringPhysicianName, true) ?? null,
      referringFuzzy: personNameFuzzyKey(study.referringPhysicianName) ?? null,
      timezone: study.timezoneOffsetFromUtc ?? null,
      now,
    };
    const knownStudy = s.findStudy.get(study.studyInstanceUid) as StudyFillRow | undefined;
    let studyPk: number;
    if (!knownStudy) {
      studyPk = Number(
        s.insertStudy.run({ ...studyParams, ...patientParams, patientPk, uid: study.studyInstanceUid })
          .lastInsertRowid,
      );
    } else {
      studyPk = knownStudy.pk;
      if (
        fills(knownStudy.study_date, studyParams.date) ||
        fills(knownStudy.study_time, studyParams.time) ||
        fills(knownStudy.accession, studyParams.accession) ||
        fills(knownStudy.study_id, studyParams.studyId) ||
        fills(knownStudy.description, studyParams.description) ||
        fills(knownStudy.referring_physician, studyParams.referring) ||
        fills(knownStudy.timezone, studyParams.timezone)
      )
        s.fillStudy.run({ ...studyParams, pk: studyPk });
    }

    // The replaced instance may have been the last of its series, which is then gone: look again.
    let seriesPk = (s.findSeries.get(series.seriesInstanceUid) as { pk: number } | undefined)?.pk;
    let newSeries = 0;
    if (seriesPk === undefined) {
      seriesPk = Number(
        s.insertSeries.run({
          studyPk,
          uid: series.seriesInstanceUid,
          modality: series.modality ?? null,
          number: series.seriesNumber ?? null,
          description: series.seriesDescription ?? null,
          descriptionCi: series.seriesDescription?.toLowerCase() ?? null,
          date: series.seriesDate ?? null,
          time: series.seriesTime ?? null,
          ppsDate: series.performedProcedureStepStartDate ?? null,
          ppsTime: series.performedProcedureStepStartTime ?? null,
          bodyPart: series.bodyPartExamined ?? null,
          requestAttributes: series.requestAttributesJson ?? null,
          now,
        }).lastInsertRowid,
      );
      newSeries = 1;
    }

    // A key whose earlier file is still queued for removal now names this instance's file.
    s.dropPendingRemoval.run(storage.fileKey);
    s.insertInstance.run({
      seriesPk,
      sopUid: instance.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
      instanceNumber: instance.instanceNumber ?? null,
      rows: instance.rows ?? null,
      columns: instance.columns ?? null,
      bitsAllocated: instance.bitsAllocated ?? null,
      numberOfFrames: instance.numberOfFrames ?? null,
      photometric: instance.photometricInterpretation ?? null,
      contentDate: instance.contentDate ?? null,
      contentTime: instance.contentTime ?? null,
      transferSyntax: storage.transferSyntaxUid,
      fileKey: storage.fileKey,
      fileSize: storage.fileSize,
      sha256: storage.sha256,
      datasetSha256: storage.datasetSha256,
      datasetOffset: storage.datasetOffset,
      deflated: storage.deflated ? 1 : 0,
      frames: JSON.stringify(storage.frames),
      bulk: JSON.stringify(storage.bulk),
      metadata: encodeMetadata(record.metadataJson),
      metadataCodec: METADATA_CODEC,
      now,
      door: record.source.door,
      callingAe: record.source.callingAETitle ?? null,
    });
    s.bumpSeries.run(1, now, seriesPk);
    s.bumpStudy.run(1, newSeries, now, studyPk);
    if (newSeries) s.refreshModalities.run({ pk: studyPk });
    return result;
  }

  /**
   * Deletes instance rows, updates counts, removes series, studies and patients left empty, and queues
   * the rows' files for removal.
   */
  private removeInstanceRows(rows: { pk: number; series_pk: number; file_key: string }[], now: string): void {
    const s = this.statements;
    const perSeries = new Map<number, number>();
    for (const row of rows) {
      s.deleteInstance.run(row.pk);
      s.addPendingRemoval.run(row.file_key);
      perSeries.set(row.series_pk, (perSeries.get(row.series_pk) ?? 0) + 1);
    }
    const touchedStudies = new Map<number, { instances: number; series: number }>();
    for (const [seriesPk, removed] of perSeries) {
      const series = s.seriesOf.get(seriesPk) as { study_pk: number; num_instances: number };
      const study = touchedStudies.get(series.study_pk) ?? { instances: 0, series: 0 };
      study.instances += removed;
      if (series.num_instances <= removed) {
        s.deleteSeries.run(seriesPk);
        study.series += 1;
      } else {
        s.bumpSeries.run(-removed, now, seriesPk);
      }
      touchedStudies.set(series.study_pk, study);
    }
    for (const [studyPk, removed] of touchedStudies) {
      const study = s.studyOf.get(studyPk) as { patient_pk: number; num_instances: number };
      if (study.num_instances <= removed.instances) {
        s.deleteStudy.run(studyPk);
        s.deletePatientIfEmpty.run(study.patient_pk, study.patient_pk);
      } else {
        s.bumpStudy.run(-removed.instances, -removed.series, now, studyPk);
        if (removed.series > 0) s.refreshModalities.run({ pk: studyPk });
      }
    }
  }

  getInstance(sopInstanceUid: string): StoredInstanceRef | undefined {
    const row = this.statements.getInstance.get(sopInstanceUid) as InstanceRow | undefined;
    return row ? toRef(row) : undefined;
  }

  listInstances(scope: Scope): StoredInstanceRef[] {
    const { where, params } = scopeFilter(scope);
    const rows = this.cached
      .get(`SELECT ${INSTANCE_COLUMNS} ${INSTANCE_JOIN} WHERE ${where} ${INSTANCE_ORDER}`)
      .all(...params) as InstanceRow[];
    return rows.map(toRef);
  }

  listMetadata(scope: Scope): string[] {
    const { where, params } = scopeFilter(scope);
    const rows = this.cached
      .get(`SELECT i.metadata, i.metadata_codec ${INSTANCE_JOIN} WHERE ${where} ${INSTANCE_ORDER}`)
      .raw()
      .all(...params) as [Buffer, string][];
    return rows.map(([blob, codec]) => decodeMetadata(blob, codec));
  }

  scopeVersion(scope: Scope): string | undefined {
    const { where, params } = scopeFilter(scope);
    const row = this.cached
      .get(`SELECT count(*) AS n, max(i.pk) AS maxPk, total(i.pk) AS sumPk ${INSTANCE_JOIN} WHERE ${where}`)
      .get(...params) as { n: number; maxPk: number | null; sumPk: number };
    // Rows are only ever inserted or deleted (a replacement is a new row), so these three change on every edit.
    return row.n === 0 ? undefined : `${row.n}-${row.maxPk}-${row.sumPk}`;
  }

  getMetadata(sopInstanceUid: string): string | undefined {
    const row = this.statements.getMetadata.get(sopInstanceUid) as
      { metadata: Buffer; metadata_codec: string } | undefined;
    return row ? decodeMetadata(row.metadata, row.metadata_codec) : undefined;
  }

  query(spec: QuerySpec): QueryResult {
    return runQuery((sql) => this.cached.get(sql), spec);
  }

  deleteInstances(scope: Scope): string[] {
    this.checkpointer?.noteWrite();
    return this.writeTransaction(() => {
      const { where, params } = scopeFilter(scope);
      const rows = this.cached
        .get(`SELECT i.pk, i.series_pk, i.file_key ${INSTANCE_JOIN} WHERE ${where}`)
        .all(...params) as { pk: number; series_pk: number; file_key: string }[];
      this.removeInstanceRows(rows, new Date().toISOString());
      return rows.map((r) => r.file_key);
    });
  }

  isFileIndexed(fileKey: string): boolean {
    return this.statements.fileIndexed.get(fileKey) !== undefined;
  }

  pendingFileRemovals(): string[] {
    return (this.statements.listPendingRemovals.all() as { fileKey: string }[]).map((r) => r.fileKey);
  }

  completeFileRemovals(fileKeys: string[]): void {
    if (fileKeys.length === 0) return;
    this.writeTransaction(() => {
      for (const key of fileKeys) this.statements.dropPendingRemoval.run(key);
      this.statements.dropReferencedRemovals.run();
    });
    this.checkpointer?.noteWrite();
  }

  listFiles(): Iterable<{ fileKey: string; fileSize: number; sha256: string; sopInstanceUid: string }> {
    return this.statements.listFiles.iterate() as Iterable<{
      fileKey: string;
      fileSize: number;
      sha256: string;
      sopInstanceUid: string;
    }>;
  }

  counts(): { patients: number; studies: number; series: number; instances: number; bytes: number } {
    return this.statements.counts.get() as {
      patients: number;
      studies: number;
      series: number;
      instances: number;
      bytes: number;
    };
  }

  checkWritable(): void {
    // A write that changes nothing: BEGIN IMMEDIATE alone succeeds on a read-only database.
    this.db.exec('BEGIN IMMEDIATE; DELETE FROM instances WHERE 0; ROLLBACK;');
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    await this.checkpointer?.close();
    if (!this.db.readonly) this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
    this.checkpointer?.closed();
  }

  durable(now = false): Promise<void> {
    return this.checkpointer?.durable(now) ?? Promise.resolve();
  }
}

function scopeFilter(scope: Scope): { where: string; params: string[] } {
  const clauses = ['s.study_uid = ?'];
  const params = [scope.studyInstanceUid];
  if (scope.seriesInstanceUid !== undefined) {
    clauses.push('se.series_uid = ?');
    params.push(scope.seriesInstanceUid);
  }
  if (scope.sopInstanceUid !== undefined) {
    clauses.push('i.sop_uid = ?');
    params.push(scope.sopInstanceUid);
  }
  return { where: clauses.join(' AND '), params };
}

function toRef(row: InstanceRow): StoredInstanceRef {
  const storage: InstanceStorage = {
    fileKey: row.file_key,
    fileSize: row.file_size,
    sha256: row.sha256,
    datasetSha256: row.dataset_sha256,
    transferSyntaxUid: row.transfer_syntax,
    datasetOffset: row.dataset_offset,
    deflated: row.deflated === 1,
    frames: JSON.parse(row.frames) as InstanceStorage['frames'],
    bulk: JSON.parse(row.bulk) as InstanceStorage['bulk'],
  };
  return {
    studyInstanceUid: row.study_uid,
    seriesInstanceUid: row.series_uid,
    sopInstanceUid: row.sop_uid,
    sopClassUid: row.sop_class_uid,
    storage,
    receivedAt: row.received_at,
  };
}
