// TLS for the tls and wss listeners: server options from certificate files, a reload that
// swaps the certificate without dropping connections (SIGHUP), and the verified client
// certificate as the core sees it (PeerCertificate).
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { PeerCertificate } from '../core/ports.js';
import { TransportError } from './errors.js';

export type TlsMinVersion = 'tlsv1.2' | 'tlsv1.3';

/** A listener's TLS settings, file paths already resolved (mosquitto's names). */
export interface TlsFileOptions {
  certfile: string;
  keyfile: string;
  /** CAs that sign client certificates; required when requireCertificate is true. */
  cafile?: string | undefined;
  /**
   * true: every client must present a certificate signed by `cafile`, else the handshake
   * fails. false (default): no client certificate is requested at all, as in mosquitto.
   */
  requireCertificate?: boolean | undefined;
  /** The lowest TLS version accepted; default tlsv1.2. */
  minVersion?: TlsMinVersion | undefined;
}

const NODE_VERSION: Record<TlsMinVersion, 'TLSv1.2' | 'TLSv1.3'> = { 'tlsv1.2': 'TLSv1.2', 'tlsv1.3': 'TLSv1.3' };

/**
 * Reads the files and checks that they make a usable context (PEM parses, key matches the
 * certificate). Throws TransportError TLS_FILE_UNREADABLE or TLS_CONFIG_INVALID.
 */
export function readSecureContextOptions(listener: string, files: TlsFileOptions): SecureContextOptions {
  if (!files.certfile || !files.keyfile) {
    throw new TransportError('LISTENER_OPTIONS_INVALID', listener, 'certfile and keyfile are required for a TLS listener');
  }
  if (files.requireCertificate === true && !files.cafile) {
    throw new TransportError('LISTENER_OPTIONS_INVALID', listener, 'require_certificate needs a cafile to verify client certificates against');
  }
  const minVersion = NODE_VERSION[files.minVersion ?? 'tlsv1.2'];
  if (minVersion === undefined) {
    throw new TransportError('LISTENER_OPTIONS_INVALID', listener, `tls_version must be tlsv1.2 or tlsv1.3, not "${String(files.minVersion)}"`);
  }
  const options: SecureContextOptions = {
    cert: readTlsFile(listener, 'certfile', files.certfile),
    key: readTlsFile(listener, 'keyfile', files.keyfile),
    minVersion,
  };
  if (files.cafile) options.ca = readTlsFile(listener, 'cafile', files.cafile);
  try {
    createSecureContext(options);
  } catch (err) {
    throw new TransportError('TLS_CONFIG_INVALID', listener, `certfile ${files.certfile} / keyfile ${files.keyfile}: ${(err as Error).message}`, { cause: err });
  }
  return options;
}

function readTlsFile(listener: string, key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TransportError('TLS_FILE_UNREADABLE', listener, `cannot read ${key} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      cause: err,
    });
  }
}

/** Options for tls.createServer / https.createServer. */
/** `handshakeTimeoutMs`: a handshake idle this long is dropped (Node's default is 120 s). */
export function tlsServerOptions(listener: string, files: TlsFileOptions, handshakeTimeoutMs: number): TlsOptions {
  const requireCertificate = files.requireCertificate === true;
  return {
    ...readSecureContextOptions(listener, files),
    // as mosquitto: without require_certificate no certificate is asked for, so a client
    // is never prompted for one it would then not be judged by. With it, the listener
    // refuses unverified peers itself (refuseUnverifiedPeer) so that each refusal is
    // counted and logged; Node would drop them silently.
    requestCert: requireCertificate,
    rejectUnauthorized: false,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/**
 * Re-reads the files and installs the new context for new connections; open connections
 * keep theirs. On any failure the old context stays and TLS_RELOAD_FAILED is thrown.
 */
export function reloadTls(server: TlsServer, listener: string, files: TlsFileOptions): void {
  let options: SecureContextOptions;
  try {
    // validated first: setSecureContext would otherwise half-apply a bad set of files
    options = readSecureContextOptions(listener, files);
  } catch (err) {
    const reason = err instanceof TransportError ? err.detail : String(err);
    throw new TransportError('TLS_RELOAD_FAILED', listener, `certificate reload failed, keeping the previous one: ${reason}`, { cause: err });
  }
  server.setSecureContext(options);
}

/**
 * For a listener with require_certificate: destroys a socket whose client certificate is
 * missing or not signed by the cafile, before any application byte is read, and returns
 * why (Node's code, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE), or undefined when verified.
 */
export function refuseUnverifiedPeer(socket: TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  socket.destroy();
  return String(socket.authorizationError ?? 'NO_CERTIFICATE');
}

/** The client certificate, when the handshake verified one against the cafile. */
export function verifiedPeerCertificate(socket: TLSSocket): PeerCertificate | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || cert.subject === undefined) return undefined;
  const subject = cert.subject as unknown as Record<string, string | string[] | undefined>;
  const cn = subject.CN;
  return {
    // the first CN, as mosquitto's use_identity_as_username takes it
    commonName: Array.isArray(cn) ? cn[0] : cn,
    subject: subjectString(subject),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * RFC 4514 order (most specific first, "CN=dev1,O=Acme"), as mosquitto's
 * use_subject_as_username prints it. Node lists the attributes in certificate order.
 */
function subjectString(subject: Record<string, string | string[] | undefined>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(subject)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${key}=${escapeRdnValue(v)}`);
  }
  return parts.reverse().join(',');
}

/** RFC 4514 section 2.4 escaping. */
function escapeRdnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}
