/**
 * Many GET requests over a few keep-alive connections, pipelined (HTTP/1.1 lets a client send
 * requests without waiting): fast enough to push 100 000 requests through a real server in a test.
 */
import net from 'node:net';

export interface PipelinedResponse {
  status: number;
  body: Buffer;
}

/** Send each path as `GET <path>` to 127.0.0.1:`port`; `check` sees every response in order per connection. */
export async function pipelinedGets(
  port: number,
  paths: string[],
  check: (path: string, response: PipelinedResponse) => void,
  connections = 8,
  window = 64,
): Promise<void> {
  let next = 0;
  const run = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const inFlight: string[] = [];
      let buffer: Buffer = Buffer.alloc(0);
      const fill = (): void => {
        let out = '';
        while (inFlight.length < window && next < paths.length) {
          const path = paths[next++];
          inFlight.push(path);
          out += `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
        }
        if (out) socket.write(out, 'latin1');
        else if (inFlight.length === 0) socket.end();
      };
      socket.on('connect', fill);
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) break;
          const head = buffer.subarray(0, end).toString('latin1');
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
          if (!Number.isFinite(length)) return reject(new Error(`response without Content-Length: ${head}`));
          if (buffer.length < end + 4 + length) break;
          const status = Number(head.slice(9, 12));
          const body = buffer.subarray(end + 4, end + 4 + length);
          buffer = buffer.subarray(end + 4 + length);
          const path = inFlight.shift();
          if (path === undefined) return reject(new Error('response to no request'));
          try {
            check(path, { status, body });
          } catch (error) {
            socket.destroy();
            return reject(error);
          }
        }
        fill();
      });
      socket.on('error', reject);
      socket.on('close', () => (inFlight.length === 0 ? resolve() : reject(new Error(`connection closed with ${inFlight.length} requests unanswered`))));
    });
  await Promise.all(Array.from({ length: connections }, run));
}
