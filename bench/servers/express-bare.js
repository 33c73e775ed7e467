// Reference: a bare Express router answering a constant bencoded body at /tracker/announce
// (the ceiling for any Express middleware).
import express from 'express';
import http from 'node:http';
import { constantAnswer, ready } from './common.js';

const body = constantAnswer();
const app = express();
const router = express.Router();
router.get('/announce', (req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
app.use('/tracker', router);
ready(http.createServer(app), 'express-bare');
