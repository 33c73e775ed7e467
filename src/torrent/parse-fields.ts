/**
 * Typed readers for the fields of a decoded .torrent file: each returns the value or throws a
 * {@link TorrentParseError} naming the field, so parsers read like the format's description.
 */
import { asSafeInteger, type BBytes, type BDict, type BValue } from './bdecode.js';
import { TorrentParseError } from './errors.js';
import { PATH_LIMITS, quote, unsafeComponentReason } from './path-rules.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A UTF-8 string entry of `dict`, or undefined when absent. */
export function optionalString(dict: BDict, key: string): string | undefined {
  const value = dict.entries.get(key);
  return value === undefined ? undefined : expectString(value, key);
}

/** The entry `key` of `dict` (`where` names the dictionary in the message when it is missing). */
export function required(dict: BDict, key: string, where: string): BValue {
  const value = dict.entries.get(key);
  if (value === undefined) throw new TorrentParseError(`missing "${where}.${key}"`);
  return value;
}

/** `value` as a dictionary, or a {@link TorrentParseError} naming `what`. */
export function expectDict(value: BValue, what: string): BDict {
  if (value.type !== 'dict') throw new TorrentParseError(`"${what}" must be a dictionary, got ${describe(value)}`, value.start);
  return value;
}

/** `value` as a list of values, or a {@link TorrentParseError} naming `what`. */
export function expectList(value: BValue, what: string): BValue[] {
  if (value.type !== 'list') throw new TorrentParseError(`"${what}" must be a list, got ${describe(value)}`, value.start);
  return value.items;
}

/** `value` as a byte string, or a {@link TorrentParseError} naming `what`. */
export function expectByteString(value: BValue, what: string): BBytes {
  if (value.type !== 'bytes') throw new TorrentParseError(`"${what}" must be a byte string, got ${describe(value)}`, value.start);
  return value;
}

/** `value`'s bytes, or a {@link TorrentParseError} naming `what`. */
export function expectBytes(value: BValue, what: string): Buffer {
  return expectByteString(value, what).value;
}

/** `value` as strict UTF-8 text, or a {@link TorrentParseError} naming `what`. */
export function expectString(value: BValue, what: string): string {
  const bytes = expectBytes(value, what);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new TorrentParseError(`"${what}" is not valid UTF-8`, value.start);
  }
}

/** `value` as a safe integer, or a {@link TorrentParseError} naming `what`. */
export function integer(value: BValue, what: string): number {
  if (value.type !== 'int') throw new TorrentParseError(`"${what}" must be an integer, got ${describe(value)}`, value.start);
  const number = asSafeInteger(value);
  if (number === undefined) throw new TorrentParseError(`"${what}" is out of range`, value.start);
  return number;
}

/** `value` as a non-negative safe integer, or a {@link TorrentParseError} naming `what`. */
export function nonNegative(value: BValue, what: string): number {
  const number = integer(value, what);
  if (number < 0) throw new TorrentParseError(`"${what}" must not be negative, got ${number}`, value.start);
  return number;
}

/**
 * Decodes one path component (or the name) and checks it: valid UTF-8, at most
 * {@link PATH_LIMITS}.componentBytes bytes, a safe component. The label for messages is only built
 * on failure (`what`, plus `[index]` when given).
 */
export function pathComponent(value: BBytes, what: string, index?: number): string {
  return componentText(value.value, index === undefined ? what : `${what}[${index}]`, value.start);
}

/**
 * The checks of {@link pathComponent} on raw bytes (a `file tree` key), `label` naming it in messages.
 */
export function componentText(bytes: Buffer, label: string, offset?: number): string {
  if (bytes.length > PATH_LIMITS.componentBytes) {
    throw new TorrentParseError(`"${label}" is longer than ${PATH_LIMITS.componentBytes} bytes`, offset);
  }
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new TorrentParseError(`"${label}" is not valid UTF-8`, offset);
  }
  const unsafe = unsafeComponentReason(text);
  if (unsafe !== undefined) throw new TorrentParseError(`"${label}" is not a safe path component (${unsafe}): ${quote(text)}`, offset);
  return text;
}

/** `an integer`, `a list`... for messages. */
export function describe(value: BValue): string {
  return value.type === 'int' ? 'an integer' : value.type === 'bytes' ? 'a byte string' : value.type === 'list' ? 'a list' : 'a dictionary';
}
