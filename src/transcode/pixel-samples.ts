/**
 * Operations on native pixel samples (little endian, 1- or 2-byte samples unless stated): frame sizes, byte
 * swapping, planar conversion, YBR_FULL_422 expansion, widening, and Bits Stored checks, masking and sign
 * extension.
 */

/** The Image Pixel attributes that describe the samples of one frame. */
export interface FrameImageInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
  planarConfiguration: number;
}

/** Bytes of one sample's container. */
export function bytesPerSample(image: FrameImageInfo): number {
  return Math.ceil(image.bitsAllocated / 8);
}

/** Bytes of one native frame; YBR_FULL_422/YBR_PARTIAL_422 keep two samples per pixel (PS3.3 C.7.6.3.1.2). */
export function nativeFrameLength(image: FrameImageInfo): number {
  const subsampled = image.photometricInterpretation.endsWith('_422');
  const samples = subsampled && image.samplesPerPixel === 3 ? 2 : image.samplesPerPixel;
  return image.rows * image.columns * samples * bytesPerSample(image);
}

/** A copy with every `unit`-byte value byte-swapped (a trailing partial value left as it is). */
export function swapBytes(data: Buffer, unit: number): Buffer {
  const out = Buffer.from(data);
  const end = out.length - (out.length % unit);
  if (unit === 2) out.subarray(0, end).swap16();
  else if (unit === 4) out.subarray(0, end).swap32();
  else if (unit === 8) out.subarray(0, end).swap64();
  return out;
}

/** Pixel-interleaved <-> planar (colour-by-plane) for 1- or 2-byte samples. */
export function changePlanar(data: Buffer, samples: number, sampleBytes: number, toPlanar: boolean): Buffer {
  const pixels = Math.floor(data.length / (samples * sampleBytes));
  const out = Buffer.alloc(data.length);
  for (let p = 0; p < pixels; p++) {
    for (let s = 0; s < samples; s++) {
      const interleaved = (p * samples + s) * sampleBytes;
      const planar = (s * pixels + p) * sampleBytes;
      const [from, to] = toPlanar ? [interleaved, planar] : [planar, interleaved];
      for (let b = 0; b < sampleBytes; b++) out[to + b] = data[from + b]!;
    }
  }
  return out;
}

/** YBR_FULL_422 (Y1 Y2 Cb Cr per pixel pair) to YBR_FULL, interleaved, by repeating the chroma samples. */
export function expandYbr422(data: Buffer, image: FrameImageInfo): Buffer {
  const pixels = image.rows * image.columns;
  const out = Buffer.alloc(pixels * 3);
  for (let p = 0, i = 0; p < pixels && i + 3 < data.length; p += 2, i += 4) {
    const [y1, y2, cb, cr] = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
    out[p * 3] = y1;
    out[p * 3 + 1] = cb;
    out[p * 3 + 2] = cr;
    if (p + 1 < pixels) {
      out[p * 3 + 3] = y2;
      out[p * 3 + 4] = cb;
      out[p * 3 + 5] = cr;
    }
  }
  return out;
}

/** 8-bit samples -> 16-bit containers (zero-extended; signed data is sign-extended afterwards if coded so). */
export function widen8(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length * 2);
  for (let i = 0; i < data.length; i++) out[i * 2] = data[i]!;
  return out;
}

function readSample(data: Buffer, at: number, sampleBytes: number): number {
  return sampleBytes === 2 ? data.readUInt16LE(at) : data[at]!;
}

function writeSample(data: Buffer, at: number, sampleBytes: number, value: number): void {
  if (sampleBytes === 2) data.writeUInt16LE(value, at);
  else data[at] = value;
}

/**
 * Whether every sample is a value of Bits Stored bits: below 2^bits when unsigned, the sign extension of its
 * low bits when signed. Otherwise the bits above Bits Stored carry something (overshoot of a lossy codec
 * with a wider codestream, overlays, padding) and coding only Bits Stored bits would lose it.
 */
export function fitsBitsStored(data: Buffer, sampleBytes: number, bits: number, signed: boolean): boolean {
  const width = sampleBytes * 8;
  if (bits >= width) return true;
  const high = ((1 << width) - 1) & ~((1 << bits) - 1);
  const sign = 1 << (bits - 1);
  for (let at = 0; at + sampleBytes <= data.length; at += sampleBytes) {
    const v = readSample(data, at, sampleBytes);
    const top = v & high;
    if (top !== (signed && v & sign ? high : 0)) return false;
  }
  return true;
}

/** Keeps the low `bits` bits of every sample (codecs that only take unsigned values). */
export function maskSamples(data: Buffer, sampleBytes: number, bits: number): Buffer {
  if (bits >= sampleBytes * 8) return data;
  const out = Buffer.from(data);
  const mask = (1 << bits) - 1;
  for (let at = 0; at + sampleBytes <= out.length; at += sampleBytes) {
    writeSample(out, at, sampleBytes, readSample(out, at, sampleBytes) & mask);
  }
  return out;
}

/** Sign-extends every sample from its low `bits` bits (signed data coded as unsigned Bits Stored values). */
export function signExtendSamples(data: Buffer, sampleBytes: number, bits: number): Buffer {
  const width = sampleBytes * 8;
  if (bits >= width) return data;
  const out = Buffer.from(data);
  const mask = (1 << bits) - 1;
  const high = ((1 << width) - 1) & ~mask;
  const sign = 1 << (bits - 1);
  for (let at = 0; at + sampleBytes <= out.length; at += sampleBytes) {
    const v = readSample(out, at, sampleBytes) & mask;
    writeSample(out, at, sampleBytes, v & sign ? v | high : v);
  }
  return out;
}
