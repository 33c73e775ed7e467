/**
 * A pool of hashing threads sharing one list of tasks.
 *
 * A *kernel* is a self-contained function `(deps, data) => { run(task), close() }`: it gets the
 * Node functions it needs through `deps` (so it imports nothing) and its work description through
 * `data`. Its source text (`kernel.toString()`) is sent to each worker thread with the job and
 * evaluated there, so the same code runs in the workers and, when asked, on the calling thread;
 * this works alike from compiled `dist/` and from TypeScript sources under a test runner, with no
 * separate worker file. Workers are generic until they get a job, so they can be started early
 * ({@link prestartHashWorkers}).
 *
 * Every thread claims the next task from a shared atomic counter, so fast threads take more tasks
 * and all finish together. A task's result (typed arrays) is transferred, not copied. When the
 * calling thread takes part it runs one task at a time and yields to its event loop in between
 * (a task is a few MiB: a few milliseconds), so results from the workers and an abort are seen.
 * It starts at once, while the workers are still booting (tens of milliseconds each).
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { TorrentCreateError, fsReason } from './errors.js';

/** What a kernel gets from its host thread. */
export interface KernelDeps {
  /** `crypto.createHash`. */
  createHash: typeof createHash;
  /**
   * SHA-256 of bytes as a 32-character latin1 string (a character a byte; write it with
   * `buffer.write(hash, offset, 'latin1')`), one-shot where Node has it. A short string costs less
   * than a Buffer, which needs a backing store of its own (0.3 against 0.6 µs a call, measured with
   * 64-byte inputs): it counts at two calls per 16 KiB block of a v2 torrent.
   */
  sha256Latin1: (data: Uint8Array) => string;
  /** `fs.openSync`. */
  openSync: typeof openSync;
  /** `fs.readSync`. */
  readSync: typeof readSync;
  /** `fs.closeSync`. */
  closeSync: typeof closeSync;
  /** `fs.fstatSync`. */
  fstatSync: typeof fstatSync;
}

/** A task's result: the bytes it hashed and any typed arrays to hand back. */
export interface KernelResult {
  /** Bytes of input the task covered (for progress). */
  bytes: number;
  /** Typed arrays (transferred from workers). */
  [key: string]: number | Uint8Array;
}

/** One thread's instance of a kernel. */
export interface Kernel<R extends KernelResult> {
  /** Run task `index` and return its result. Throws an Error with `code` / `path` on failure. */
  run(index: number): R;
  /** Release what the kernel holds open. */
  close(): void;
}

/** A self-contained kernel factory (see the module comment: it must not use anything from its scope). */
export type KernelFactory<D, R extends KernelResult> = (deps: KernelDeps, data: D) => Kernel<R>;

/** Options of {@link runHashPool}. */
export interface HashPoolOptions<D, R extends KernelResult> {
  /** The kernel (its source is sent to the workers). */
  kernel: KernelFactory<D, R>;
  /** The kernel's work description (structured-cloned to each worker). */
  data: D;
  /** Number of tasks, 0 to taskCount - 1. */
  taskCount: number;
  /** Worker threads to start (0: the calling thread does everything). */
  workers: number;
  /** Whether the calling thread hashes too (always, when `workers` is 0). */
  callerHashes: boolean;
  /** Receives each task's result, on the calling thread. */
  onResult: (index: number, result: R) => void;
  /** Aborts; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** The functions kernels use, bound for this thread. */
export function kernelDeps(): KernelDeps {
  const sha256Latin1 =
    typeof oneShotHash === 'function'
      ? (data: Uint8Array) => oneShotHash('sha256', data, 'binary')
      : (data: Uint8Array) => createHash('sha256').update(data).digest('binary');
  return { createHash, sha256Latin1, openSync, readSync, closeSync, fstatSync };
}

/**
 * A worker's script: generic, so workers can be started before their job is known (see
 * {@link prestartHashWorkers}). It waits for one job message (kernel source, data, shared counter),
 * evaluates the kernel, runs tasks until the counter passes the task count, and reports.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
const deps = {
  createHash: crypto.createHash,
  sha256Latin1: typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'binary')
    : (data) => crypto.createHash('sha256').update(data).digest('binary'),
  openSync: fs.openSync, readSync: fs.readSync, closeSync: fs.closeSync, fstatSync: fs.fstatSync,
};
parentPort.once('message', (job) => {
  const next = new Int32Array(job.counter);
  let kernel;
  try {
    const factory = (0, eval)('(' + job.source + ')');
    kernel = factory(deps, job.data);
    for (;;) {
      const index = Atomics.add(next, 0, 1);
      if (index >= job.taskCount) break;
      const result = kernel.run(index);
      const transfer = [];
      for (const key of Object.keys(result)) {
        const value = result[key];
        if (ArrayBuffer.isView(value) && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) transfer.push(value.buffer);
      }
      parentPort.postMessage({ index, result }, transfer);
    }
    kernel.close();
    parentPort.postMessage({ done: true });
  } catch (error) {
    Atomics.store(next, 0, job.taskCount);
    try { if (kernel) kernel.close(); } catch {}
    parentPort.postMessage({ error: { message: String(error && error.message), code: error && error.code, path: error && error.path } });
  }
  parentPort.close();
});
`;

/** Workers started ahead of time, waiting for a job (unreferenced: they never keep the process alive). */
const spares: Worker[] = [];

/**
 * Start `count` hashing workers now, so that they boot (tens of milliseconds each) while the
 * program does other things: the next {@link runHashPool} takes them instead of starting its own.
 * Unused ones do not keep the process alive. A command-line tool calls this first thing.
 */
export function prestartHashWorkers(count: number): void {
  for (let i = spares.length; i < count; i++) {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('error', () => undefined); // reported to the pool that takes it, if any
    worker.unref();
    spares.push(worker);
  }
}

/** A ready-started worker if one is alive, else a new one. */
function takeWorker(): Worker {
  for (;;) {
    const spare = spares.shift();
    if (spare === undefined) return new Worker(WORKER_SOURCE, { eval: true });
    if (spare.threadId !== -1) {
      spare.ref();
      return spare;
    }
  }
}

type WorkerMessage<R> =
  | { index: number; result: R; done?: undefined; error?: undefined }
  | { done: true; error?: undefined }
  | { error: { message: string; code?: string; path?: string }; done?: undefined };

/**
 * Run every task of a kernel on `workers` worker threads (and the calling thread when asked).
 * Resolves when all results were delivered to `onResult`.
 * @throws {TorrentCreateError} when a kernel fails reading a file or sees it change.
 */
export async function runHashPool<D, R extends KernelResult>(options: HashPoolOptions<D, R>): Promise<void> {
  const { taskCount, signal, onResult } = options;
  signal?.throwIfAborted();
  if (taskCount === 0) return;
  const counter = new SharedArrayBuffer(4);
  const next = new Int32Array(counter);
  const workerCount = Math.max(0, Math.min(options.workers, taskCount));
  const callerHashes = options.callerHashes || workerCount === 0;
  let failure: unknown;
  let completed = 0;
  let finished = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const fail = (error: unknown): void => {
    failure ??= error;
    Atomics.store(next, 0, taskCount); // no more tasks for anyone
    notify();
  };
  const workers: Worker[] = [];
  if (workerCount > 0) {
    const job = { source: options.kernel.toString(), data: options.data, counter, taskCount };
    for (let i = 0; i < workerCount; i++) {
      const worker = takeWorker();
      worker.postMessage(job);
      workers.push(worker);
      let reported = false;
      worker.on('message', (message: WorkerMessage<R>) => {
        if (message.error !== undefined || message.done) reported = true;
        if (message.error !== undefined) {
          fail(kernelError(message.error));
        } else if (!message.done) {
          try {
            onResult(message.index, message.result);
            completed++;
            if (completed === taskCount) notify();
          } catch (error) {
            fail(error);
          }
        }
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (!finished && !reported) fail(new Error(`hashing worker exited unexpectedly (code ${code})`));
      });
    }
  }
  signal?.addEventListener('abort', notify);
  try {
    if (callerHashes) {
      const kernel = options.kernel(kernelDeps(), options.data);
      try {
        for (;;) {
          if (failure !== undefined) throw failure;
          signal?.throwIfAborted();
          const index = Atomics.add(next, 0, 1);
          if (index >= taskCount) break;
          let result: R;
          try {
            result = kernel.run(index);
          } catch (error) {
            throw kernelError(error as { message: string; code?: string; path?: string });
          }
          onResult(index, result);
          completed++;
          // Let worker messages, progress and an abort through between two tasks.
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (error) {
        fail(error);
      } finally {
        kernel.close();
      }
    }
    // The condition is checked and the wait begins in one synchronous step, so no wake-up is lost.
    // Workers still booting when every task is done are not waited for.
    for (;;) {
      if (failure !== undefined) throw failure;
      signal?.throwIfAborted();
      if (completed === taskCount) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    finished = true;
    signal?.removeEventListener('abort', notify);
    Atomics.store(next, 0, taskCount);
    // Stop the workers without waiting for them to be gone (nothing is left to receive from them),
    // and never let them hold the process open.
    for (const worker of workers) {
      worker.unref();
      worker.terminate().catch(() => undefined);
    }
  }
}

/** A kernel's error as a {@link TorrentCreateError} naming the file. */
export function kernelError(error: { message: string; code?: string; path?: string }): TorrentCreateError | Error {
  if (error instanceof TorrentCreateError) return error;
  const where = error.path ?? 'a file';
  if (error.code === 'CHANGED') {
    return new TorrentCreateError(`${where} changed while it was being hashed: ${error.message}`, { path: error.path });
  }
  if (error.path === undefined && error.code === undefined && error instanceof Error) return error;
  const reason = error.code === undefined ? error.message : fsReason(Object.assign(new Error(error.message), { code: error.code }));
  return new TorrentCreateError(`cannot read ${where}: ${reason}`, { path: error.path });
}
