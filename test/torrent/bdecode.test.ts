import { describe, expect, it } from 'vitest';
import { bdecode, type BValue } from '../../src/torrent/bdecode.js';
import { TorrentParseError } from '../../src/torrent/errors.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

function plain(value: BValue): unknown {
  switch (value.type) {
    case 'int':
      return value.value;
    case 'bytes':
      return value.value.toString('latin1');
    case 'list':
      return value.items.map(plain);
    case 'dict':
      return Object.fromEntries([...value.entries].map(([k, v]) => [k, plain(v)]));
  }
}

describe('bdecode (strict)', () => {
  it('decodes every type with byte ranges', () => {
    const input = b('d3:bar4:spam3:fooi42e4:listli-7e0:ee');
    const root = bdecode(input);
    expect(plain(root)).toEqual({ bar: 'spam', foo: 42n, list: [-7n, ''] });
    expect(root.type).toBe('dict');
    if (root.type !== 'dict') return;
    const list = root.entries.get('list');
    expect(list && input.subarray(list.start, list.end).toString()).toBe('li-7e0:e');
    const foo = root.entries.get('foo');
    expect(foo && [foo.start, foo.end]).toEqual([17, 21]);
    expect([root.start, root.end]).toEqual([0, input.length]);
  });

  it('accepts 64-bit integers at the limits', () => {
    expect(plain(bdecode(b('i9223372036854775807e')))).toBe(9223372036854775807n);
    expect(plain(bdecode(b('i-9223372036854775808e')))).toBe(-9223372036854775808n);
    expect(plain(bdecode(b('i0e')))).toBe(0n);
  });

  it.each([
    ['', /empty input/],
    ['i01e', /leading zero/],
    ['i-0e', /negative zero/],
    ['ie', /no digits/],
    ['i-e', /no digits/],
    ['i1', /not terminated/],
    ['i1.5e', /invalid character/],
    ['i9223372036854775808e', /64 bits/],
    ['i99999999999999999999999e', /too many digits/],
    ['01:a', /leading zero/],
    ['5:abc', /runs past the end/],
    ['3abc', /invalid character/],
    ['l', /truncated/],
    ['d', /truncated/],
    ['d3:fooi1e', /truncated/],
    ['d3:foo', /truncated/],
    ['di1ei2ee', /key is not a string/],
    ['d1:b0:1:a0:e', /not sorted/],
    ['d1:a0:1:a0:e', /duplicate/],
    ['i1ei2e', /after the end/],
    ['le ', /after the end/],
    ['x', /unexpected byte 0x78/],
    ['l' + 'l'.repeat(100) + 'e'.repeat(101), /nesting deeper/],
  ])('rejects %j', (text, message) => {
    expect(() => bdecode(b(text))).toThrow(TorrentParseError);
    expect(() => bdecode(b(text))).toThrow(message);
  });

  it('compares keys byte-wise (uppercase before lowercase, shorter prefix first)', () => {
    expect(() => bdecode(b('d1:A0:1:a0:2:aa0:e'))).not.toThrow();
    expect(() => bdecode(b('d2:aa0:1:a0:e'))).toThrow(/not sorted/);
    expect(() => bdecode(Buffer.concat([b('d1:'), Buffer.from([0xc3]), b('0:1:z0:e')]))).toThrow(/not sorted/);
  });

  it('reports the byte offset of the problem', () => {
    try {
      bdecode(b('li1ei01ee'));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TorrentParseError);
      expect((error as TorrentParseError).offset).toBe(5); // the first digit of "01"
      expect((error as Error).message).toMatch(/leading zero at byte 5/);
    }
  });
});
