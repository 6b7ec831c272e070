/**
 * C-STORE from the test process with dcmjs-dimse (an independent DIMSE implementation): one
 * association per call, every file's response status reported, so tests know exactly what the gateway
 * acknowledged.
 */
import dimse from 'dcmjs-dimse';

// dcmjs-dimse logs every PDU at info level; tests only want its results.
dimse.log.setLevel('warn');

export interface StoreResult {
  file: string;
  /** DIMSE status of the C-STORE response; undefined when none came (association failed). */
  status?: number;
}

export function storeFiles(
  port: number,
  files: string[],
  options: { callingAETitle?: string; calledAETitle?: string } = {},
): Promise<StoreResult[]> {
  const results: StoreResult[] = files.map((file) => ({ file }));
  return new Promise((resolve) => {
    const client = new dimse.Client();
    files.forEach((file, i) => {
      const request = new dimse.requests.CStoreRequest(file);
      request.on('response', (response) => {
        results[i]!.status = response.getStatus();
      });
      client.addRequest(request);
    });
    // Whatever happens to the association, the results say which files were acknowledged.
    client.on('networkError', () => resolve(results));
    client.on('closed', () => resolve(results));
    client.send('127.0.0.1', port, options.callingAETitle ?? 'TESTSCU', options.calledAETitle ?? 'DICOMWEB');
  });
}
