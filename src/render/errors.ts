/**
 * The renderer's error. Thrown for pixel data that cannot be decoded (corrupt or truncated codestreams,
 * frames shorter than the image attributes say), images the pipeline does not handle, and rendering
 * parameters that cannot apply to the image (a viewport region outside it). The process and the codecs stay
 * usable after any of them.
 */
export type RenderErrorReason = 'corrupt' | 'unsupported' | 'invalid-parameter';

export class RenderError extends Error {
  readonly reason: RenderErrorReason;

  constructor(message: string, reason: RenderErrorReason = 'corrupt', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RenderError';
    this.reason = reason;
  }
}
