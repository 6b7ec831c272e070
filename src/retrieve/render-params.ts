/**
 * Rendering parameters (PS3.18 8.3.5.1) from WADO-RS query strings and, translated, from WADO-URI
 * (PS3.18 9.3.1). Bad values are 400s naming the parameter.
 */
import { GatewayError } from '../errors.js';

export interface RenderParams {
  window?: { center: number; width: number; fn: 'linear' | 'linear-exact' | 'sigmoid' };
  viewport?: { width: number; height: number; sx?: number; sy?: number; sw?: number; sh?: number };
  quality?: number;
}

const MAX_DIMENSION = 8192;

function bad(name: string, value: string, why: string): GatewayError {
  return new GatewayError('BAD_REQUEST', `rendering parameter ${name}="${value.slice(0, 60)}" ${why}`);
}

function numbers(name: string, value: string, count: [number, number]): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length < count[0] || parts.length > count[1]) {
    throw bad(
      name,
      value,
      `must have ${count[0] === count[1] ? count[0] : `${count[0]} to ${count[1]}`} comma-separated values`,
    );
  }
  return parts.map((p) => {
    const n = Number(p);
    if (p === '' || !Number.isFinite(n)) throw bad(name, value, `has "${p}", which is not a number`);
    return n;
  });
}

function dimension(name: string, value: string, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_DIMENSION)
    throw bad(name, value, `needs whole sizes from 1 to ${MAX_DIMENSION}`);
  return n;
}

export function parseWindow(value: string): RenderParams['window'] {
  const parts = value.split(',').map((p) => p.trim());
  const [center, width] = numbers('window', parts.slice(0, 2).join(','), [2, 2]);
  if (width! <= 0) throw bad('window', value, 'needs a width above 0');
  const fn = (parts[2] ?? 'linear').toLowerCase();
  if (fn !== 'linear' && fn !== 'linear-exact' && fn !== 'sigmoid') {
    throw bad('window', value, 'has an unknown function (linear, linear-exact or sigmoid)');
  }
  return { center: center!, width: width!, fn };
}

export function parseViewport(value: string): RenderParams['viewport'] {
  const values = numbers('viewport', value, [2, 6]);
  if (values.length !== 2 && values.length !== 6)
    throw bad('viewport', value, 'must be vw,vh or vw,vh,sx,sy,sw,sh');
  const viewport: NonNullable<RenderParams['viewport']> = {
    width: dimension('viewport', value, values[0]!),
    height: dimension('viewport', value, values[1]!),
  };
  if (values.length === 6) {
    const [sx, sy, sw, sh] = values.slice(2) as [number, number, number, number];
    if (sx < 0 || sy < 0 || !Number.isInteger(sx) || !Number.isInteger(sy))
      throw bad('viewport', value, 'needs whole, non-negative sx and sy');
    if (!Number.isInteger(sw) || !Number.isInteger(sh) || sw === 0 || sh === 0)
      throw bad('viewport', value, 'needs whole, non-zero sw and sh');
    Object.assign(viewport, { sx, sy, sw, sh });
  }
  return viewport;
}

export function parseQuality(value: string, name = 'quality'): number {
  const n = Number(value);
  if (!/^\d{1,3}$/.test(value.trim()) || n < 1 || n > 100)
    throw bad(name, value, 'must be a whole number from 1 to 100');
  return n;
}

/** WADO-RS rendering parameters from query pairs; unknown ones are left to the caller. */
export function parseRenderParams(pairs: [string, string][]): RenderParams {
  const params: RenderParams = {};
  for (const [rawKey, value] of pairs) {
    switch (rawKey.toLowerCase()) {
      case 'window':
        params.window = parseWindow(value);
        break;
      case 'viewport':
        params.viewport = parseViewport(value);
        break;
      case 'quality':
        params.quality = parseQuality(value);
        break;
      case 'annotation':
        // "patient" and "technique" burn-in are optional (PS3.18 8.3.5.1.1); accepted and not drawn.
        for (const item of value.split(',').map((v) => v.trim().toLowerCase())) {
          if (item !== 'patient' && item !== 'technique' && item !== '')
            throw bad('annotation', value, 'must be patient and/or technique');
        }
        break;
      case 'iccprofile':
        // Only "no" (no embedded profile) is produced (PS3.18 8.3.5.1.5); the others are refused explicitly.
        if (!['no', ''].includes(value.trim().toLowerCase()))
          throw bad('iccprofile', value, 'is not supported; only "no" is');
        break;
    }
  }
  return params;
}

/** A stable text of the parameters, for cache keys and ETags. */
export function renderParamsKey(params: RenderParams): string {
  return JSON.stringify([params.window ?? null, params.viewport ?? null, params.quality ?? null]);
}
