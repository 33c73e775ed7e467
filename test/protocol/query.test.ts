import { describe, expect, it } from 'vitest';
import { decodeBytes, decodeFixed, splitQuery } from '../../src/protocol/query.js';
import { TrackerFailure } from '../../src/protocol/errors.js';
import { escapeAll, escapeLikeLibtorrent } from '../helpers/escape.js';

const limits = { maxParameters: 128 };

describe('raw query decoding', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

  it('recovers all 256 byte values from uppercase, lowercase and mixed escaping', () => {
    expect(decodeBytes(escapeAll(all), 'x')).toEqual(all);
    expect(decodeBytes(escapeAll(all, true), 'x')).toEqual(all);
    expect(decodeBytes(escapeLikeLibtorrent(all), 'x')).toEqual(all);
    // mixed case inside one escape
    expect(decodeBytes('%aB%Cd', 'x')).toEqual(Buffer.from([0xab, 0xcd]));
  });

  it('takes every 20-byte window of all byte values exactly', () => {
    for (let start = 0; start + 20 <= 256; start += 7) {
      const id = all.subarray(start, start + 20);
      for (const raw of [escapeAll(id), escapeAll(id, true), escapeLikeLibtorrent(id)]) {
        expect(decodeFixed(raw, 'info_hash', 20)).toEqual(id);
      }
    }
  });

  it('keeps + as the literal byte 0x2B, not a space', () => {
    expect(decodeBytes('a+b', 'x')).toEqual(Buffer.from('a+b'));
    expect(decodeBytes('%2B%20', 'x')).toEqual(Buffer.from('+ '));
  });

  it('names the field on malformed and truncated escapes', () => {
    expect(() => decodeBytes('%G0', 'info_hash')).toThrow(new TrackerFailure('malformed %-escape in info_hash'));
    expect(() => decodeBytes('%0', 'info_hash')).toThrow(new TrackerFailure('truncated %-escape in info_hash'));
    expect(() => decodeBytes('abc%', 'peer_id')).toThrow(new TrackerFailure('truncated %-escape in peer_id'));
    expect(() => decodeBytes('\u0100', 'peer_id')).toThrow(TrackerFailure);
  });

  it('rejects wrong lengths with the length in the message', () => {
    expect(() => decodeFixed('%00'.repeat(19), 'info_hash', 20)).toThrow('info_hash must be exactly 20 bytes (got 19)');
    expect(() => decodeFixed('%00'.repeat(21), 'peer_id', 20)).toThrow('peer_id must be exactly 20 bytes (got 21)');
  });

  it('splits parameters in order, keeps repeats and empty values, skips empty pairs', () => {
    const q = splitQuery('a=1&&b=&c&info_hash=x&info_hash=y&', limits);
    expect(q.names).toEqual(['a', 'b', 'c', 'info_hash', 'info_hash']);
    expect(q.values).toEqual(['1', '', '', 'x', 'y']);
    expect(splitQuery('', limits).names).toEqual([]);
  });

  it('limits the number of parameters', () => {
    expect(() => splitQuery('a=1&'.repeat(129), limits)).toThrow('too many query parameters (limit 128)');
    expect(splitQuery('a=1&'.repeat(128), limits).names).toHaveLength(128);
  });
});
