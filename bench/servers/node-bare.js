// Reference: raw node:http answering a constant bencoded body (the ceiling for Node).
import http from 'node:http';
import { constantAnswer, ready } from './common.js';

const body = constantAnswer();
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
ready(server, 'node-bare');
