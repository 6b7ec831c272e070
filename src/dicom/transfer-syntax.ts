/** Transfer syntaxes the gateway accepts and stores as received (PS3.5 10 and Annex A; PS3.18 8.7.3). */

export interface TransferSyntax {
  uid: string;
  name: string;
  explicitVR: boolean;
  littleEndian: boolean;
  /** The dataset after the File Meta Information is deflate-compressed (PS3.5 A.5). */
  deflated: boolean;
  /** Pixel data is encapsulated in items, one or more fragments per frame (PS3.5 A.4). */
  encapsulated: boolean;
  /** Media type of one frame in this syntax, for WADO-RS frame retrieval (PS3.18 Table 8.7.3-2). */
  frameMediaType: string;
  lossy: boolean;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

type Row = [uid: string, name: string, frameMediaType: string, lossy: boolean];

const native = (uid: string, name: string, explicitVR: boolean, littleEndian: boolean, deflated = false) => ({
  uid,
  name,
  explicitVR,
  littleEndian,
  deflated,
  encapsulated: false,
  frameMediaType: 'application/octet-stream',
  lossy: false,
});

const ENCAPSULATED: Row[] = [
  ['1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'image/jpeg', true],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 and 4)', 'image/jpeg', true],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', 'image/jpeg', false],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless, First-Order Prediction (Process 14, SV1)', 'image/jpeg', false],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'image/jls', false],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless', 'image/jls', true],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', 'image/jp2', false],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000', 'image/jp2', true],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component (Lossless Only)', 'image/jpx', false],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component', 'image/jpx', true],
  ['1.2.840.10008.1.2.4.201', 'HTJ2K (Lossless Only)', 'image/jph', false],
  ['1.2.840.10008.1.2.4.202', 'HTJ2K with RPCL Options (Lossless Only)', 'image/jph', false],
  ['1.2.840.10008.1.2.4.203', 'HTJ2K', 'image/jph', true],
  ['1.2.840.10008.1.2.4.110', 'JPEG XL Lossless', 'image/jxl', false],
  ['1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression', 'image/jxl', false],
  ['1.2.840.10008.1.2.4.112', 'JPEG XL', 'image/jxl', true],
  ['1.2.840.10008.1.2.5', 'RLE Lossless', 'image/dicom-rle', false],
  ['1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level', 'video/mpeg', true],
  ['1.2.840.10008.1.2.4.100.1', 'Fragmentable MPEG2 Main Profile / Main Level', 'video/mpeg', true],
  ['1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level', 'video/mpeg', true],
  ['1.2.840.10008.1.2.4.101.1', 'Fragmentable MPEG2 Main Profile / High Level', 'video/mpeg', true],
  ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1', 'video/mp4', true],
  ['1.2.840.10008.1.2.4.102.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1', 'video/mp4', true],
  ['1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', 'video/mp4', true],
  [
    '1.2.840.10008.1.2.4.103.1',
    'Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile',
    'video/mp4',
    true,
  ],
  ['1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', 'video/mp4', true],
  [
    '1.2.840.10008.1.2.4.104.1',
    'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 2D',
    'video/mp4',
    true,
  ],
  ['1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', 'video/mp4', true],
  [
    '1.2.840.10008.1.2.4.105.1',
    'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 3D',
    'video/mp4',
    true,
  ],
  ['1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', 'video/mp4', true],
  ['1.2.840.10008.1.2.4.106.1', 'Fragmentable MPEG-4 AVC/H.264 Stereo High Profile', 'video/mp4', true],
  ['1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1', 'video/H265', true],
  ['1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1', 'video/H265', true],
  [
    '1.2.840.10008.1.2.1.98',
    'Encapsulated Uncompressed Explicit VR Little Endian',
    'application/octet-stream',
    false,
  ],
];

const ALL: TransferSyntax[] = [
  native(IMPLICIT_VR_LITTLE_ENDIAN, 'Implicit VR Little Endian', false, true),
  native(EXPLICIT_VR_LITTLE_ENDIAN, 'Explicit VR Little Endian', true, true),
  native(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, 'Deflated Explicit VR Little Endian', true, true, true),
  native(EXPLICIT_VR_BIG_ENDIAN, 'Explicit VR Big Endian', true, false),
  ...ENCAPSULATED.map(([uid, name, frameMediaType, lossy]) => ({
    uid,
    name,
    explicitVR: true,
    littleEndian: true,
    deflated: false,
    encapsulated: true,
    frameMediaType,
    lossy,
  })),
];

const BY_UID = new Map(ALL.map((ts) => [ts.uid, ts]));

export function findTransferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid);
}

export function allTransferSyntaxes(): readonly TransferSyntax[] {
  return ALL;
}
