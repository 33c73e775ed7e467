// The admin page's upload: send the file with XMLHttpRequest (for its upload progress), then poll
// the publishing job (hashing progress) until the torrent is published.
import { human } from './format.js';

const form = document.getElementById('upload');
const box = document.getElementById('upload-box');
const uploadBar = document.getElementById('upload-progress');
const uploadText = document.getElementById('upload-text');
const hashBar = document.getElementById('hash-progress');
const hashText = document.getElementById('hash-text');
const status = document.getElementById('upload-status');
const button = document.getElementById('upload-button');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function say(text, className = '') {
  status.className = className;
  status.textContent = text;
}

function send(file) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/admin/upload');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => {
      if (!e.lengthComputable) return;
      uploadBar.dataset.events = String(Number(uploadBar.dataset.events ?? 0) + 1);
      uploadBar.value = e.loaded / e.total;
      uploadText.textContent = `${human(e.loaded)} of ${human(e.total)}`;
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 202) resolve(xhr.response);
      else reject(new Error(xhr.response?.error ?? `HTTP ${xhr.status}`));
    });
    xhr.addEventListener('error', () => reject(new Error('the upload was interrupted')));
    const body = new FormData();
    body.append('file', file);
    xhr.send(body);
  });
}

async function follow(jobId) {
  for (;;) {
    const res = await fetch(`/admin/jobs/${encodeURIComponent(jobId)}`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`job status: HTTP ${res.status}`);
    const job = await res.json();
    if (job.total > 0) {
      hashBar.value = job.hashed / job.total;
      hashText.textContent = `${human(job.hashed)} of ${human(job.total)}`;
    }
    hashBar.dataset.steps = String(job.steps);
    if (job.state === 'failed') throw new Error(job.error);
    if (job.state === 'published') return job;
    await sleep(150);
  }
}

form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = document.getElementById('file').files[0];
  if (!file) return;
  const max = Number(form.dataset.maxBytes);
  if (file.size > max) {
    say(`The file is larger than the limit of ${human(max)}.`, 'error');
    return;
  }
  button.disabled = true;
  box.hidden = false;
  uploadBar.value = 0;
  hashBar.value = 0;
  hashText.textContent = 'waiting for the upload';
  say(`Uploading ${file.name}…`);
  try {
    const { job, name } = await send(file);
    uploadBar.value = 1;
    say(`Hashing ${name}…`);
    await follow(job);
    hashBar.value = 1;
    hashText.textContent = 'done';
    status.className = 'ok';
    status.textContent = 'Published: ';
    const link = document.createElement('a');
    link.href = `/t/${encodeURIComponent(name)}`;
    link.textContent = name;
    link.id = 'published-link';
    status.append(link, ' (listed on the home page).');
    status.dataset.published = name;
  } catch (error) {
    say(`Failed: ${error.message}`, 'error');
    status.dataset.error = error.message;
  } finally {
    button.disabled = false;
  }
});
