/** The WebTorrent frame codec without a server: validation of every field, and the answer frames. */
import { describe, expect, it } from 'vitest';
import {
  encodeWsAnnounce,
  encodeWsAnswer,
  encodeWsFailure,
  encodeWsOffer,
  encodeWsScrape,
  idBytes,
  idString,
  parseWsFrame,
  MAX_SIGNAL_BYTES,
  MAX_SIGNAL_FIELDS,
  parseSignal,
  SIGNAL_REASON,
  WsProtocolError,
  type WsAnnounce,
} from '../../src/protocol/websocket.js';
import { counterReason } from '../../src/protocol/counter.js';

const LIMITS = { maxOffers: 10, maxScrapeHashes: 64 };
const IH = 'abcdefghijklmnopqrs\u00ff';
const PID = '-WW0300-' + 'x'.repeat(12);
const offer = (n: number) => ({ offer_id: String(n).padStart(20, '0'), offer: { type: 'offer', sdp: `v=0 ${n}` } });
const parse = (m: unknown) => parseWsFrame(JSON.stringify(m), LIMITS);
const failure = (m: unknown): WsProtocolError => {
  try {
    parseWsFrame(typeof m === 'string' ? m : JSON.stringify(m), LIMITS);
  } catch (error) {
    expect(error).toBeInstanceOf(WsProtocolError);
    return error as WsProtocolError;
  }
  throw new Error('expected a failure');
};

describe('WebTorrent frames', () => {
  it('ids are 20 latin1 characters, one byte each, and round-trip', () => {
    const bytes = idBytes(IH)!;
    expect(bytes).toHaveLength(20);
    expect(bytes[19]).toBe(0xff);
    expect(idString(bytes)).toBe(IH);
    expect(idBytes('x'.repeat(19))).toBeUndefined();
    expect(idBytes('x'.repeat(21))).toBeUndefined();
    expect(idBytes('x'.repeat(19) + '\u0100')).toBeUndefined(); // above U+00FF
    expect(idBytes(12345)).toBeUndefined();
  });

  it('parses an announce with offers, as clients send it', () => {
    const m = parse({ action: 'announce', info_hash: IH, peer_id: PID, uploaded: 10, downloaded: 20, left: 30, event: 'started', numwant: 3, offers: [offer(1), offer(2), offer(3)] }) as WsAnnounce;
    expect(m.action).toBe('announce');
    expect(idString(m.infoHash)).toBe(IH);
    expect(m).toMatchObject({ event: 'started', uploaded: 10, downloaded: 20, left: 30, numwant: 3 });
    expect(m.offers.map((o) => idString(o.offerId))).toEqual([offer(1).offer_id, offer(2).offer_id, offer(3).offer_id]);
    expect(JSON.parse(m.offers[0].json)).toEqual({ type: 'offer', sdp: 'v=0 1' });
  });

  it('bounds offers: at most maxOffers, never more than numwant', () => {
    const many = Array.from({ length: 50 }, (_, i) => offer(i));
    expect((parse({ action: 'announce', info_hash: IH, peer_id: PID, numwant: 50, offers: many }) as WsAnnounce).offers).toHaveLength(10);
    expect((parse({ action: 'announce', info_hash: IH, peer_id: PID, numwant: 2, offers: many }) as WsAnnounce).numwant).toBe(2);
    const none = parse({ action: 'announce', info_hash: IH, peer_id: PID, numwant: 50 }) as WsAnnounce;
    expect(none.numwant).toBe(0);
    const stopped = parse({ action: 'announce', info_hash: IH, peer_id: PID, event: 'stopped', offers: many }) as WsAnnounce;
    expect(stopped.offers).toHaveLength(0);
  });

  it('parses an answer and a scrape', () => {
    const a = parse({ action: 'announce', info_hash: IH, peer_id: PID, to_peer_id: 'y'.repeat(20), offer_id: 'o'.repeat(20), answer: { type: 'answer', sdp: 's' } }) as WsAnnounce;
    expect(idString(a.answer!.toPeerId)).toBe('y'.repeat(20));
    expect(JSON.parse(a.answer!.json)).toEqual({ type: 'answer', sdp: 's' });
    expect(parse({ action: 'scrape', info_hash: IH })).toEqual({ action: 'scrape', infoHashes: [idBytes(IH)] });
    expect(parse({ action: 'scrape', info_hash: [IH, 'b'.repeat(20)] })).toMatchObject({ infoHashes: [idBytes(IH), idBytes('b'.repeat(20))] });
    expect(parse({ action: 'scrape' })).toEqual({ action: 'scrape', infoHashes: [] });
  });

  it('names what is wrong, keeping the info hash so the answer reaches the right torrent', () => {
    expect(failure('not json').message).toBe('frame is not JSON');
    expect(failure('[1,2]').message).toBe('frame must be a JSON object');
    expect(failure({ info_hash: IH }).message).toBe('action is missing');
    expect(failure({ action: 'dance', info_hash: IH }).message).toBe('unknown action');
    const badPeer = failure({ action: 'announce', info_hash: IH, peer_id: 'short' });
    expect(badPeer.message).toMatch(/peer_id/);
    expect(badPeer.infoHash).toBe(IH);
    expect(badPeer.action).toBe('announce');
    expect(failure({ action: 'announce', info_hash: 'x'.repeat(19) + '\u0101', peer_id: PID }).infoHash).toBeUndefined();
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, event: 'exploded' }).message).toMatch(/event/);
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, left: -1 }).message).toMatch(/left/);
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, uploaded: 'lots' }).message).toMatch(/uploaded/);
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, offers: {} }).message).toMatch(/offers must be an array/);
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, offers: [{ offer_id: 'x', offer: {} }] }).message).toMatch(/offer_id/);
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, offers: [{ offer_id: 'o'.repeat(20), offer: 'sdp' }] }).message).toMatch(/offer must be an object/);
    expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, answer: {}, to_peer_id: 'x', offer_id: 'o'.repeat(20) }).message).toMatch(/to_peer_id/);
    expect(failure({ action: 'scrape', info_hash: Array(65).fill(IH) }).message).toMatch(/too many/);
    expect(failure({ action: 'scrape', info_hash: [IH, 7] }).action).toBe('scrape');
  });

  it('counters follow the rule of every door: whole numbers from 0 to 2^53-1 (numbers, or up to 16 digits)', () => {
    const ok = (v: unknown) => (parse({ action: 'announce', info_hash: IH, peer_id: PID, uploaded: v, downloaded: v, left: v }) as WsAnnounce).uploaded;
    expect(ok(0)).toBe(0);
    expect(ok(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
    expect(ok('1234567890123456')).toBe(1234567890123456);
    expect(ok(null)).toBe(0);
    for (const field of ['uploaded', 'downloaded', 'left', 'corrupt']) {
      for (const bad of [1.5, 1e308, -1, 2 ** 53, '9007199254740992', '12345678901234567', '1e3', ' 1', true, [], {}]) {
        expect(failure({ action: 'announce', info_hash: IH, peer_id: PID, [field]: bad }).message).toBe(counterReason(field));
      }
    }
    // 1e999 parses to Infinity
    expect(failure(`{"action":"announce","info_hash":${JSON.stringify(IH)},"peer_id":${JSON.stringify(PID)},"left":1e999}`).message).toBe(counterReason('left'));
  });

  it('offers and answers are shallow and small: deep nesting is refused, never serialised', () => {
    let deep = '"x"';
    for (let i = 0; i < 4000; i++) deep = `{"a":${deep}}`;
    const frame = (field: string) =>
      `{"action":"announce","info_hash":${JSON.stringify(IH)},"peer_id":${JSON.stringify(PID)},` +
      (field === 'offer' ? `"offers":[{"offer_id":"${'o'.repeat(20)}","offer":${deep}}]}` : `"to_peer_id":"${'y'.repeat(20)}","offer_id":"${'o'.repeat(20)}","answer":${deep}}`);
    expect(frame('offer').length).toBeLessThan(30_000);
    expect(failure(frame('offer')).message).toBe(SIGNAL_REASON('offer'));
    expect(failure(frame('answer')).message).toBe(SIGNAL_REASON('answer'));
    // one level of nesting is fine, two are not; arrays of scalars are fine as fields
    expect(parseSignal({ type: 'offer', sdp: 's', x: { a: 1, b: [1] } })).toBeUndefined();
    expect(parseSignal({ type: 'offer', sdp: 's', x: { a: 1, b: null }, c: [1, 'x', true] })).toBe('{"type":"offer","sdp":"s","x":{"a":1,"b":null},"c":[1,"x",true]}');
    expect(parseSignal([1])).toBeUndefined();
    expect(parseSignal('sdp')).toBeUndefined();
    expect(parseSignal({ sdp: 'x'.repeat(MAX_SIGNAL_BYTES) })).toBeUndefined();
    expect(parseSignal(Object.fromEntries(Array.from({ length: MAX_SIGNAL_FIELDS + 1 }, (_, i) => [`k${i}`, i])))).toBeUndefined();
    // lone surrogates come out escaped: the relayed frame is valid JSON
    const lone = parseSignal({ sdp: 'a\ud800b' })!;
    expect(JSON.parse(lone)).toEqual({ sdp: 'a\ud800b' });
    expect(Buffer.from(lone, 'utf8').toString('utf8')).toBe(lone);
  });

  it('relayed frames are valid JSON whatever the ids hold (quotes, backslashes, control characters)', () => {
    const odd = '"\\\u0000\u001f\u00ff'.padEnd(20, '"');
    const m = parse({ action: 'announce', info_hash: odd, peer_id: odd, offers: [{ offer_id: odd, offer: { type: 'offer', sdp: '"}' } }] }) as WsAnnounce;
    expect(JSON.parse(encodeWsOffer(m.infoHash, m.peerId, m.offers[0]))).toEqual({ action: 'announce', info_hash: odd, peer_id: odd, offer_id: odd, offer: { type: 'offer', sdp: '"}' } });
  });

  it('writes answers as clients read them', () => {
    const ih = idBytes(IH)!;
    expect(JSON.parse(encodeWsAnnounce(ih, { complete: 2, incomplete: 3 }, 120))).toEqual({ action: 'announce', interval: 120, info_hash: IH, complete: 2, incomplete: 3 });
    const o = JSON.parse(encodeWsOffer(ih, idBytes(PID)!, { offerId: idBytes('o'.repeat(20))!, json: JSON.stringify({ type: 'offer', sdp: 'x' }) }));
    expect(o).toEqual({ action: 'announce', info_hash: IH, peer_id: PID, offer_id: 'o'.repeat(20), offer: { type: 'offer', sdp: 'x' } });
    const a = JSON.parse(encodeWsAnswer(ih, idBytes(PID)!, { toPeerId: idBytes('y'.repeat(20))!, offerId: idBytes('o'.repeat(20))!, json: JSON.stringify({ type: 'answer', sdp: 'y' }) }));
    expect(a).toEqual({ action: 'announce', info_hash: IH, peer_id: PID, offer_id: 'o'.repeat(20), answer: { type: 'answer', sdp: 'y' } });
    expect(JSON.parse(encodeWsScrape([{ infoHash: ih, complete: 1, incomplete: 2, downloaded: 3 }]))).toEqual({ action: 'scrape', files: { [IH]: { complete: 1, incomplete: 2, downloaded: 3 } } });
    expect(JSON.parse(encodeWsFailure('nope', undefined, undefined))).toEqual({ action: 'announce', 'failure reason': 'nope' });
    expect(JSON.parse(encodeWsFailure('nope', 'scrape', IH))).toEqual({ action: 'scrape', 'failure reason': 'nope', info_hash: IH });
  });
});
