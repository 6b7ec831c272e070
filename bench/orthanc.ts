/**
 * Orthanc with its DICOMweb plugin as the side-by-side baseline (Debian packages orthanc and
 * orthanc-dicomweb), started on loopback with its own temporary storage and stopped after the run.
 *
 * Fairness settings (printed with the results):
 * - every stored file is fsynced (SyncStorageArea, Orthanc's default), like the gateway;
 * - SQLite: Orthanc 1.10's built-in index opens its database with JOURNAL_MODE=WAL and SYNCHRONOUS=NORMAL
 *   (and LOCKING_MODE=EXCLUSIVE), compiled in: the same durability level as the gateway, nothing to set;
 * - the same maximum PDU; TCP_NODELAY=1 in Orthanc's environment (DCMTK then disables Nagle on DIMSE
 *   sockets) and TcpNoDelay on its HTTP server;
 * - QIDO answered from the index only (StorageAccessOnFind=Never), no HTTP compression (the bench's
 *   client sends no Accept-Encoding to either server);
 * - DICOMweb plugin metadata: `metadataMode` (see run.ts --orthanc-metadata).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, stopChild, waitFor, type MoveConfig, type Target } from './targets.js';

const ORTHANC = '/usr/sbin/Orthanc';
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export type OrthancMetadataMode = 'Full' | 'MainDicomTags' | 'Extrapolate';

/** Tags OHIF needs per instance that Orthanc 1.10 does not keep as main DICOM tags. */
export const OHIF_INSTANCE_TAGS = [
  'SOPClassUID',
  'Rows',
  'Columns',
  'SamplesPerPixel',
  'PhotometricInterpretation',
  'BitsAllocated',
  'BitsStored',
  'HighBit',
  'PixelRepresentation',
  'PixelSpacing',
  'RescaleIntercept',
  'RescaleSlope',
  'WindowCenter',
  'WindowWidth',
  'FrameOfReferenceUID',
  'SliceThickness',
];

export function orthancInstalled(): boolean {
  return existsSync(ORTHANC) && existsSync(DICOMWEB_PLUGIN);
}

export async function startOrthancTarget(options: {
  workDir: string;
  maxPduLength: number;
  metadataMode: OrthancMetadataMode;
  move: MoveConfig;
}): Promise<Target> {
  if (!orthancInstalled()) {
    throw new Error('Orthanc is not installed: apt-get install -y orthanc orthanc-dicomweb');
  }
  await mkdir(options.workDir, { recursive: true });
  const httpPort = await freePort();
  const dimsePort = await freePort();
  const config = {
    Name: 'ORTHANC_BENCH',
    StorageDirectory: join(options.workDir, 'storage'),
    IndexDirectory: join(options.workDir, 'index'),
    Plugins: [DICOMWEB_PLUGIN],
    HttpPort: httpPort,
    DicomPort: dimsePort,
    DicomAet: 'ORTHANC',
    DicomCheckCalledAet: false,
    DicomCheckModalityHost: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpCompressionEnabled: false,
    OrthancExplorerEnabled: false,
    WebDavEnabled: false,
    // Fairness: both servers fsync every stored file; same maximum PDU; Nagle off on HTTP sockets.
    SyncStorageArea: true,
    MaximumPduLength: options.maxPduLength,
    TcpNoDelay: true,
    KeepAlive: true,
    StorageCompression: false,
    StoreMD5ForAttachments: true,
    OverwriteInstances: false,
    SaveJobs: false,
    // Answer C-FIND and QIDO from the index, never by opening files (Orthanc's fastest setting).
    StorageAccessOnFind: 'Never',
    LimitFindResults: 0,
    LimitFindInstances: 0,
    // C-MOVE: the bench's storescp is the destination, the bench's movescu the requester.
    DicomModalities: {
      benchscp: [
        options.move.destination.aeTitle,
        options.move.destination.host,
        options.move.destination.port,
      ],
      benchscu: [options.move.requester, '127.0.0.1', 104],
    },
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: true,
      WadoRoot: '/wado',
      Host: `127.0.0.1:${httpPort}`,
      Ssl: false,
      StudiesMetadata: options.metadataMode,
      SeriesMetadata: options.metadataMode,
      StudiesMetadataExtrapolatedTags: OHIF_INSTANCE_TAGS,
      SeriesMetadataExtrapolatedTags: OHIF_INSTANCE_TAGS,
    },
  };
  const configFile = join(options.workDir, 'orthanc.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  let output = '';
  // TCP_NODELAY=1: DCMTK (inside Orthanc) then disables Nagle on DIMSE sockets.
  const child = spawn(ORTHANC, [configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TCP_NODELAY: '1' },
  });
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  const root = `http://127.0.0.1:${httpPort}`;
  await waitFor(`${root}/system`, child, () => output);
  const system = (await (await fetch(`${root}/system`)).json()) as { Version?: string };
  const plugin = (await (await fetch(`${root}/plugins/dicom-web`)).json()) as { Version?: string };
  return {
    name: 'orthanc',
    dicomweb: `${root}/dicom-web`,
    root,
    aeTitle: 'ORTHANC',
    dimsePort,
    pid: child.pid!,
    indexFiles: {
      db: join(options.workDir, 'index', 'index'),
      wal: join(options.workDir, 'index', 'index-wal'),
    },
    settings: {
      version: `Orthanc ${system.Version ?? '?'} + DICOMweb plugin ${plugin.Version ?? '?'} (Debian packages)`,
      fsync: 'SyncStorageArea=true (each stored file fsynced)',
      sqlite: 'built-in SQLite index: WAL, synchronous=NORMAL, locking_mode=EXCLUSIVE (compiled in)',
      maxPdu: String(options.maxPduLength),
      tcpNoDelay: 'TcpNoDelay=true (HTTP), TCP_NODELAY=1 in the environment (DCMTK, DIMSE)',
      metadata:
        `DicomWeb.StudiesMetadata=SeriesMetadata=${options.metadataMode}` +
        (options.metadataMode === 'Extrapolate' ? ` (extrapolated: ${OHIF_INSTANCE_TAGS.join(',')})` : ''),
      memory: "glibc defaults, as Debian's service runs it",
      other:
        'StorageAccessOnFind=Never, HttpCompressionEnabled=false, StorageCompression=false, ' +
        'StoreMD5ForAttachments=true, default thread counts and storage cache',
    },
    stop: () => stopChild(child),
  };
}
