/**
 * Rendered pixels to the response image with sharp: the source region and flips of the viewport parameter
 * (PS3.18 8.3.5.1.3), scaling to fit the viewport keeping the aspect ratio, and encoding as JPEG, PNG or an
 * animated GIF. Grayscale stays one channel through to the file.
 */
import sharp, { type Sharp } from 'sharp';
import { RenderError } from './errors.js';

export interface Raster {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

export interface Viewport {
  width: number;
  height: number;
  sx?: number;
  sy?: number;
  sw?: number;
  sh?: number;
}

export const DEFAULT_JPEG_QUALITY = 90;

interface Placement {
  left: number;
  top: number;
  width: number;
  height: number;
  flipX: boolean;
  flipY: boolean;
  outWidth: number;
  outHeight: number;
}

/**
 * Where the viewport takes its pixels from and how large the result is. sx, sy, sw, sh are absolute values
 * (defaults 0, 0, to the right edge, to the bottom edge), clipped to the image; a negative sw flips
 * horizontally, a negative sh vertically. The region is then scaled to be as large as possible within
 * vw x vh without distortion.
 */
export function placeViewport(width: number, height: number, viewport: Viewport | undefined): Placement {
  if (!viewport) {
    return { left: 0, top: 0, width, height, flipX: false, flipY: false, outWidth: width, outHeight: height };
  }
  const vw = Math.trunc(viewport.width);
  const vh = Math.trunc(viewport.height);
  if (!(vw >= 1 && vh >= 1)) {
    throw new RenderError(`invalid viewport size ${viewport.width}x${viewport.height}`, 'invalid-parameter');
  }
  const left = Math.round(Math.abs(viewport.sx ?? 0));
  const top = Math.round(Math.abs(viewport.sy ?? 0));
  const right = viewport.sw === undefined ? width : Math.min(width, left + Math.round(Math.abs(viewport.sw)));
  const bottom =
    viewport.sh === undefined ? height : Math.min(height, top + Math.round(Math.abs(viewport.sh)));
  if (!(left < right && top < bottom)) {
    throw new RenderError(
      `the viewport's source region (${viewport.sx ?? 0},${viewport.sy ?? 0},${viewport.sw ?? ''},${viewport.sh ?? ''}) ` +
        `has no pixels of the ${width}x${height} image`,
      'invalid-parameter',
    );
  }
  const regionWidth = right - left;
  const regionHeight = bottom - top;
  const scale = Math.min(vw / regionWidth, vh / regionHeight);
  return {
    left,
    top,
    width: regionWidth,
    height: regionHeight,
    flipX: (viewport.sw ?? 0) < 0,
    flipY: (viewport.sh ?? 0) < 0,
    outWidth: Math.min(vw, Math.max(1, Math.round(regionWidth * scale))),
    outHeight: Math.min(vh, Math.max(1, Math.round(regionHeight * scale))),
  };
}

function pipeline(raster: Raster, placement: Placement): Sharp {
  let image = sharp(raster.data, {
    raw: { width: raster.width, height: raster.height, channels: raster.channels },
  });
  if (
    placement.left !== 0 ||
    placement.top !== 0 ||
    placement.width !== raster.width ||
    placement.height !== raster.height
  ) {
    image = image.extract({
      left: placement.left,
      top: placement.top,
      width: placement.width,
      height: placement.height,
    });
  }
  if (placement.flipX) image = image.flop();
  if (placement.flipY) image = image.flip();
  if (placement.outWidth !== placement.width || placement.outHeight !== placement.height) {
    image = image.resize(placement.outWidth, placement.outHeight, { fit: 'fill' });
  }
  return raster.channels === 1 ? image.toColourspace('b-w') : image;
}

const JPEG_MAX_SIDE = 65500;

export async function encodeImage(
  raster: Raster,
  viewport: Viewport | undefined,
  mediaType: 'image/jpeg' | 'image/png',
  quality: number | undefined,
): Promise<{ bytes: Buffer; width: number; height: number }> {
  const placement = placeViewport(raster.width, raster.height, viewport);
  // libjpeg's limit (Columns may be up to 65535): an unhandled encoder error otherwise, a 500.
  if (mediaType === 'image/jpeg' && Math.max(placement.outWidth, placement.outHeight) > JPEG_MAX_SIDE) {
    throw new RenderError(
      `a JPEG is at most ${JPEG_MAX_SIDE} pixels wide and high, this image is ${placement.outWidth}x${placement.outHeight}: ask for image/png or a smaller viewport`,
      'unsupported',
    );
  }
  const image = pipeline(raster, placement);
  let bytes: Buffer;
  if (mediaType === 'image/jpeg') {
    const q = Math.min(100, Math.max(1, Math.round(quality ?? DEFAULT_JPEG_QUALITY)));
    // High qualities keep full chroma resolution (burned-in text and colour overlays stay sharp).
    // Standard Huffman tables, as libjpeg's default: sharp's optimised ones make the file about a tenth
    // smaller but double the encoding time, which is most of a cold render of a large image.
    bytes = await image
      .jpeg({ quality: q, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0', optimiseCoding: false })
      .toBuffer();
  } else {
    bytes = await image.png({ compressionLevel: 6 }).toBuffer();
  }
  return { bytes, width: placement.outWidth, height: placement.outHeight };
}

/** Frames (all the same size) as one looping animated GIF; `delays` in milliseconds per frame. */
export async function encodeGif(
  rasters: Raster[],
  viewport: Viewport | undefined,
  delays: number[],
): Promise<Buffer> {
  const first = rasters[0];
  if (!first) throw new RenderError('an animated GIF needs at least one frame', 'invalid-parameter');
  const placement = placeViewport(first.width, first.height, viewport);
  const pages: Buffer[] = [];
  for (const raster of rasters) {
    if (
      raster.width !== first.width ||
      raster.height !== first.height ||
      raster.channels !== first.channels
    ) {
      throw new RenderError('the frames of an animated GIF differ in size', 'unsupported');
    }
    pages.push(await pipeline(raster, placement).raw().toBuffer());
  }
  const { outWidth: width, outHeight: height } = placement;
  const channels = first.channels;
  const stacked = Buffer.concat(pages);
  if (stacked.length !== width * height * channels * rasters.length) {
    throw new RenderError('unexpected frame size while building the animated GIF', 'unsupported');
  }
  return sharp(stacked, { raw: { width, height: height * rasters.length, channels, pageHeight: height } })
    .gif({
      delay: delays.map((d) => Math.round(d)),
      loop: 0,
      // One page per frame even when frames repeat; grey levels fit the palette exactly, so no dithering.
      keepDuplicateFrames: true,
      dither: channels === 1 ? 0 : 1,
    })
    .toBuffer();
}
