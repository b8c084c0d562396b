// Typed transport errors: a listener that cannot start or reload says which listener and
// why, with a stable `code` the CLI and the admin API can act on.

export type TransportErrorCode =
  /** The options of a listener are unusable (e.g. tls without certfile, a bad port). */
  | 'LISTENER_OPTIONS_INVALID'
  /** Another process (or listener) already holds the address. */
  | 'ADDRESS_IN_USE'
  /** The OS refused the bind (e.g. a port below 1024 without privileges). */
  | 'ADDRESS_NOT_PERMITTED'
  /** The bind address is not an address of this machine. */
  | 'ADDRESS_NOT_AVAILABLE'
  /** Any other bind failure. */
  | 'LISTEN_FAILED'
  /** A certfile, keyfile or cafile could not be read. */
  | 'TLS_FILE_UNREADABLE'
  /** The files were read but do not make a usable TLS context (bad PEM, key/cert mismatch). */
  | 'TLS_CONFIG_INVALID'
  /** reload() failed; the listener keeps serving with its previous certificate. */
  | 'TLS_RELOAD_FAILED';

export class TransportError extends Error {
  readonly code: TransportErrorCode;
  /** The listener's name, e.g. "tls:8883". */
  readonly listener: string;
  /** The message without the listener's name in front. */
  readonly detail: string;

  constructor(code: TransportErrorCode, listener: string, detail: string, options?: { cause?: unknown }) {
    super(`${listener}: ${detail}`, options);
    this.name = 'TransportError';
    this.code = code;
    this.listener = listener;
    this.detail = detail;
  }
}

/** Maps a bind error (server 'error' during listen) to a TransportError. */
export function listenError(listener: string, err: NodeJS.ErrnoException, where: string): TransportError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new TransportError('ADDRESS_IN_USE', listener, `${where} is already in use`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new TransportError('ADDRESS_NOT_PERMITTED', listener, `not permitted to listen on ${where}`, { cause: err });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new TransportError('ADDRESS_NOT_AVAILABLE', listener, `${where} is not an address of this machine`, { cause: err });
    default:
      return new TransportError('LISTEN_FAILED', listener, `cannot listen on ${where}: ${err.message}`, { cause: err });
  }
}
