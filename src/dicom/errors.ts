/** Raised for bytes that are not a DICOM stream the gateway can read. Carries no HTTP or DIMSE notions. */
export class DicomParseError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'DicomParseError';
  }
}
