/**
 * What the codecs do not report about a JPEG, JPEG-LS or JPEG 2000/HTJ2K codestream, read from (or written
 * into) its marker segments: sample precision and signedness, JPEG-LS interleave mode, and the Adobe APP14
 * colour transform of JPEG streams.
 */

/** Sample precision P of a JPEG or JPEG-LS stream, from its SOF (or SOF55) marker. */
export function jpegPrecision(data: Buffer): number | undefined {
  let at = 2; // after SOI
  while (at + 5 <= data.length) {
    if (data[at] !== 0xff) return undefined;
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof || marker === 0xf7) return data[at + 4];
    if (marker === 0xda || marker === 0xd9) return undefined;
    at += 2 + data.readUInt16BE(at + 2);
  }
  return undefined;
}

const J2K_SOC_SIZ = Buffer.from([0xff, 0x4f, 0xff, 0x51]);

/** Precision and signedness of the first component of a JPEG 2000/HTJ2K codestream (SIZ marker, Ssiz). */
export function j2kPrecision(data: Buffer): { precision: number; signed: boolean } | undefined {
  const at = data.indexOf(J2K_SOC_SIZ);
  if (at < 0 || at + 43 > data.length) return undefined;
  const ssiz = data[at + 42]!;
  return { precision: (ssiz & 0x7f) + 1, signed: (ssiz & 0x80) !== 0 };
}

/** JPEG-LS: the first scan holds one component when the components are coded one after another (ILV 0). */
export function jpegLsIsPlanar(data: Uint8Array, samplesPerPixel: number): boolean {
  if (samplesPerPixel === 1) return false;
  let at = 2; // after SOI
  while (at + 4 < data.length) {
    if (data[at] !== 0xff) return false;
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xda) return (data[at + 4] ?? samplesPerPixel) < samplesPerPixel;
    at += 2 + ((data[at + 2]! << 8) | data[at + 3]!);
  }
  return false;
}

/**
 * The JPEG encoder labels every 3-component stream RGB (Adobe APP14 transform 0, components 'R' 'G' 'B').
 * For YBR_FULL input that makes JPEG decoders that trust the stream (dcmdjpeg by default) call YCbCr samples
 * RGB; transform 1 says YCbCr, as dcmtk's own lossless YBR_FULL streams do (JFIF), so they convert instead.
 */
export function markJpegYCbCr(jpeg: Buffer): void {
  let at = 2; // after SOI
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1]!;
    const length = jpeg.readUInt16BE(at + 2);
    if (marker === 0xee && length >= 14 && jpeg.toString('latin1', at + 4, at + 9) === 'Adobe') {
      jpeg[at + 15] = 1;
      return;
    }
    if (marker === 0xda || marker === 0xd9) return;
    at += 2 + length;
  }
}
