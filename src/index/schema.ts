/**
 * SQLite schema of the index, as numbered migrations applied in order. `user_version` records the
 * last one applied, so an older data directory is upgraded in place at start-up.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE patients (
    pk INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL,
    issuer TEXT NOT NULL,
    patient_name TEXT,
    patient_name_ci TEXT,
    patient_name_fuzzy TEXT,
    birth_date TEXT,
    sex TEXT,
    UNIQUE (patient_id, issuer)
  );
  CREATE INDEX patients_name_ci ON patients (patient_name_ci);

  -- Patient attributes are also kept per study, as the study's own instances state them: a patient's
  -- name or birth date may differ between studies, and study-level queries match what the study says.
  CREATE TABLE studies (
    pk INTEGER PRIMARY KEY,
    patient_pk INTEGER NOT NULL REFERENCES patients (pk),
    study_uid TEXT NOT NULL UNIQUE,
    patient_id TEXT NOT NULL,
    issuer TEXT NOT NULL,
    patient_name TEXT,
    patient_name_ci TEXT,
    patient_name_fuzzy TEXT,
    birth_date TEXT,
    sex TEXT,
    study_date TEXT,
    study_time TEXT,
    accession TEXT,
    study_id TEXT,
    description TEXT,
    description_ci TEXT,
    referring_physician TEXT,
    referring_physician_ci TEXT,
    referring_physician_fuzzy TEXT,
    timezone TEXT,
    modalities TEXT NOT NULL DEFAULT '',
    num_series INTEGER NOT NULL DEFAULT 0,
    num_instances INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX studies_patient ON studies (patient_pk);
  CREATE INDEX studies_date ON studies (study_date, study_time, pk);
  CREATE INDEX studies_accession ON studies (accession);
  CREATE INDEX studies_patient_id ON studies (patient_id);

  CREATE TABLE series (
    pk INTEGER PRIMARY KEY,
    study_pk INTEGER NOT NULL REFERENCES studies (pk),
    series_uid TEXT NOT NULL UNIQUE,
    modality TEXT,
    series_number INTEGER,
    description TEXT,
    description_ci TEXT,
    series_date TEXT,
    series_time TEXT,
    pps_start_date TEXT,
    pps_start_time TEXT,
    body_part TEXT,
    request_attributes TEXT,
    num_instances INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX series_study ON series (study_pk, series_number);
  CREATE INDEX series_modality ON series (modality, study_pk);

  -- AUTOINCREMENT: a key is never reused, so (count, max, sum) of keys identifies a set of instances (ETags).
  CREATE TABLE instances (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    series_pk INTEGER NOT NULL REFERENCES series (pk),
    sop_uid TEXT NOT NULL UNIQUE,
    sop_class_uid TEXT NOT NULL,
    instance_number INTEGER,
    rows INTEGER,
    columns INTEGER,
    bits_allocated INTEGER,
    number_of_frames INTEGER,
    photometric TEXT,
    content_date TEXT,
    content_time TEXT,
    transfer_syntax TEXT NOT NULL,
    file_key TEXT NOT NULL UNIQUE,
    file_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    dataset_sha256 TEXT NOT NULL,
    dataset_offset INTEGER NOT NULL,
    deflated INTEGER NOT NULL,
    frames TEXT NOT NULL,
    bulk TEXT NOT NULL,
    metadata BLOB NOT NULL,
    received_at TEXT NOT NULL,
    door TEXT NOT NULL,
    calling_ae TEXT
  );
  CREATE INDEX instances_series ON instances (series_pk, instance_number);
  CREATE INDEX instances_sop_class ON instances (sop_class_uid);
  `,
  // Files whose index rows are gone (deleted or replaced) but which may still be on disk: removed after
  // the transaction commits, and again at start-up if a crash came in between, so a deleted instance
  // never comes back through verify --repair or reindex.
  `
  CREATE TABLE pending_file_removals (
    file_key TEXT PRIMARY KEY
  );
  `,
  // Metadata is LZ4-compressed from here on; rows written before keep raw deflate (see metadata-codec.ts).
  `
  ALTER TABLE instances ADD COLUMN metadata_codec TEXT NOT NULL DEFAULT 'deflate';
  `,
];
