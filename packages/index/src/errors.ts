import { UserError } from '@nx-pex/pep';

/** Any failure talking to a package index or find-links location. */
export class IndexError extends UserError {}

/** A downloaded file's sha256 differs from the one the lock or the index promised. */
export class HashMismatchError extends IndexError {
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `sha256 mismatch for ${url}: expected ${expected}, got ${actual}. ` +
        `The file changed on the server or the lock is wrong; re-lock or check the index serves the locked file.`,
    );
  }
}

/** The server closed the connection before sending the whole file. */
export class TruncatedDownloadError extends IndexError {
  constructor(
    readonly url: string,
    readonly expectedBytes: number,
    readonly receivedBytes: number,
  ) {
    super(
      `Download of ${url} was cut short: received ${receivedBytes} of ${expectedBytes} bytes. ` +
        `Check the network connection or proxy and retry.`,
    );
  }
}

/** The index could not be reached or kept failing after retries. */
export class IndexUnreachableError extends IndexError {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(
      `Cannot reach ${url}: ${reason}. ` +
        `Check the network connection, the index URL (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, pip.conf index-url), ` +
        `its credentials and certificates (PIP_CERT / cert).`,
    );
  }
}

/** The index answered with something that is not a PEP 503/691 page. */
export class IndexResponseError extends IndexError {}
