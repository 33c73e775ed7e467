// Reference: the cheapest UDP tracker Node can be. node:dgram answering every connect and announce
// with a constant (a 320-byte announce answer: 50 peers); no parsing, no store, no connection ids.
import dgram from 'node:dgram';

const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
const answer = Buffer.alloc(20 + 50 * 6, 7);
answer.writeUInt32BE(1, 0);
socket.on('message', (msg, rinfo) => {
  if (msg.length < 16) return;
  const out = Buffer.from(msg.readUInt32BE(8) === 0 ? msg.subarray(0, 16) : answer);
  out.writeUInt32BE(msg.readUInt32BE(8) === 0 ? 0 : 1, 0);
  out.writeUInt32BE(msg.readUInt32BE(12), 4);
  socket.send(out, rinfo.port, rinfo.address);
});
socket.bind(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${socket.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
