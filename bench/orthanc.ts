/**
 * Orthanc with its DICOMweb plugin as the side-by-side baseline (Debian packages orthanc and
 * orthanc-dicomweb), started on loopback with its own temporary storage and stopped after the run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Target } from './targets.js';

const ORTHANC = '/usr/sbin/Orthanc';
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export async function startOrthancTarget(options: {
  workDir: string;
  maxPduLength: number;
}): Promise<Target> {
  if (!existsSync(ORTHANC) || !existsSync(DICOMWEB_PLUGIN)) {
    throw new Error('Orthanc is not installed: apt-get install -y orthanc orthanc-dicomweb');
  }
  await mkdir(options.workDir, { recursive: true });
  const httpPort = 18442;
  const dimsePort = 18404;
  const config = {
    Name: 'ORTHANC_BENCH',
    StorageDirectory: join(options.workDir, 'storage'),
    IndexDirectory: join(options.workDir, 'index'),
    Plugins: [DICOMWEB_PLUGIN],
    HttpPort: httpPort,
    DicomPort: dimsePort,
    DicomAet: 'ORTHANC',
    DicomCheckCalledAet: false,
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
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: true,
      WadoRoot: '/wado',
      Host: `127.0.0.1:${httpPort}`,
      Ssl: false,
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
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const root = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Orthanc exited early:\n${output}`);
    try {
      if ((await fetch(`${root}/system`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`Orthanc did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    name: 'orthanc',
    dicomweb: `${root}/dicom-web`,
    root,
    aeTitle: 'ORTHANC',
    dimsePort,
    pid: child.pid!,
    settings: {
      version: 'Orthanc 1.10 + DICOMweb plugin 1.7 (Debian)',
      fsync: 'SyncStorageArea=true',
      sqlite: 'built-in SQLite index (WAL)',
      maxPdu: String(options.maxPduLength),
      tcpNoDelay: 'TcpNoDelay=true (HTTP), TCP_NODELAY=1 (DCMTK)',
      find: 'StorageAccessOnFind=Never',
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
