/**
 * Bounded waiting, for anything that must answer in time or fail (storage calls, the site's passkey
 * and torrent functions, traffic callbacks), so that nothing hangs a request. No I/O of its own.
 */

/**
 * Settle like `promise`, or reject with `timeoutError()` once `ms` milliseconds have passed first.
 * The timer is cleared as soon as the promise settles.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
