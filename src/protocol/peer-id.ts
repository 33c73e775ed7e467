/**
 * The client behind a peer id, for administrators: a small table of common clients and the three
 * conventions they use to put their name and version in the first bytes of the id.
 * - Azureus style, `-XXvvvv-`: two letters for the client and four version characters (a digit, or
 *   a letter standing for 10 and up: rTorrent's `-lt0D80-` is 0.13.8; a trailing letter is a build
 *   mark, as µTorrent's `-UT355W-` 3.5.5). Transmission and WebTorrent have their own digits.
 * - Shadow style, `Xvvv--`: one letter and up to five version characters.
 * - Mainline style, `M7-4-3--`: one letter and numbers between dashes.
 * Unknown ids give undefined: a guess would mislead more than it helps.
 */

/** Azureus-style two-letter codes. */
const AZUREUS: Record<string, string> = {
  qB: 'qBittorrent',
  TR: 'Transmission',
  LT: 'libtorrent',
  lt: 'rTorrent',
  DE: 'Deluge',
  UT: 'µTorrent',
  UM: 'µTorrent Mac',
  UW: 'µTorrent Web',
  BT: 'BitTorrent',
  BW: 'BitTorrent Web',
  WW: 'WebTorrent',
  WD: 'WebTorrent Desktop',
  AZ: 'Vuze',
  BI: 'BiglyBT',
  TX: 'Tixati',
  KT: 'KTorrent',
  FW: 'FrostWire',
  BC: 'BitComet',
  XL: 'Xunlei',
  SD: 'Thunder',
  PI: 'PicoTorrent',
  ET: 'express-torrent-tracker',
};

/** Shadow-style one-letter codes. */
const SHADOW: Record<string, string> = {
  A: 'ABC',
  O: 'Osprey Permaseed',
  Q: 'BTQueue',
  R: 'Tribler',
  S: 'Shadow',
  T: 'BitTornado',
  U: 'UPnP NAT Bit Torrent',
};

/** Mainline-style one-letter codes. */
const MAINLINE: Record<string, string> = { M: 'BitTorrent', Q: 'Queen Bee' };

/** A version character: 0-9, then A-Z for 10-35 (Azureus style), then a-z for 36-61 and . - (Shadow style). */
function versionDigit(c: string): number {
  return '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-'.indexOf(c);
}

/** The version of an Azureus-style id from its four characters `v`, by the client's convention. */
function azureusVersion(code: string, v: string): string | undefined {
  if (code === 'WW' || code === 'WD') {
    // two digits a part: -WW0107- is 1.7 (WebTorrent's own scheme)
    return /^\d{4}$/.test(v) ? `${Number(v.slice(0, 2))}.${Number(v.slice(2))}` : undefined;
  }
  if (code === 'TR') {
    // Transmission before 4.0: -TR2940- is 2.94, -TR300Z- 3.00; from 4.0: major, minor, patch
    if (!/^\d\d\d[0-9A-Z]$/.test(v)) return undefined;
    return Number(v[0]) >= 4 ? `${v[0]}.${v[1]}.${v[2]}` : `${v[0]}.${v[1]}${v[2]}`;
  }
  const parts = [...v].map(versionDigit);
  if (parts.slice(0, 3).some((n) => n < 0 || n > 35)) return undefined;
  // a fourth part only when it is a digit other than 0 (a letter there is a build mark)
  const shown = /[1-9]/.test(v[3]) ? parts : parts.slice(0, 3);
  return shown.join('.');
}

/** The client's name and version from a 20-byte peer id (`qBittorrent 4.6.5`), or undefined. */
export function clientName(peerId: Uint8Array): string | undefined {
  const id = Buffer.from(peerId.buffer, peerId.byteOffset, peerId.byteLength).toString('latin1');
  const azureus = /^-([A-Za-z~]{2})([0-9A-Za-z]{4})-/.exec(id);
  if (azureus) {
    const name = AZUREUS[azureus[1]];
    if (!name) return undefined;
    const version = azureusVersion(azureus[1], azureus[2]);
    return version ? `${name} ${version}` : name;
  }
  const tixati = /^TIX(\d\d)(\d\d)/.exec(id);
  if (tixati) return `Tixati ${Number(tixati[1])}.${tixati[2]}`;
  const aria2 = /^A2-(\d+)-(\d+)-(\d+)-/.exec(id);
  if (aria2) return `aria2 ${aria2[1]}.${aria2[2]}.${aria2[3]}`;
  const mainline = /^([A-Z])(\d+)-(\d+)-(\d+)-/.exec(id);
  if (mainline && MAINLINE[mainline[1]]) return `${MAINLINE[mainline[1]]} ${mainline[2]}.${mainline[3]}.${mainline[4]}`;
  const shadow = /^([AOQRSTU])([0-9A-Za-z.]{1,5})-*---/.exec(id);
  if (shadow && SHADOW[shadow[1]]) {
    const version = [...shadow[2]].map(versionDigit).join('.');
    return `${SHADOW[shadow[1]]} ${version}`;
  }
  return undefined;
}
