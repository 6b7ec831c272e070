/**
 * UID syntax (PS3.5 9.1): digits and dots, at most 64 characters. Real modalities send components with
 * leading zeros, so those are accepted; empty components are not, which also rules out "." and "..".
 */
const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

export const MAX_UID_LENGTH = 64;

export function isValidUid(value: string | undefined): boolean {
  return value !== undefined && value.length > 0 && value.length <= MAX_UID_LENGTH && UID_PATTERN.test(value);
}
