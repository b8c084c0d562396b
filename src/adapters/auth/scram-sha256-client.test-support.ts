// The client side of SCRAM-SHA-256 (RFC 5802), for tests: builds client-first and
// client-final, and checks the server signature of server-final.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export class ScramSha256Client {
  readonly username: string;
  readonly #password: string;
  readonly #nonce: string;
  readonly #gs2Header: string;
  #clientFirstBare = '';
  #serverSignature: Buffer | undefined;

  constructor(username: string, password: string, options: { nonce?: string; gs2Header?: string } = {}) {
    this.username = username;
    this.#password = password;
    this.#nonce = options.nonce ?? randomBytes(18).toString('base64');
    this.#gs2Header = options.gs2Header ?? 'n,,';
  }

  clientFirst(): string {
    const name = this.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.#clientFirstBare = `n=${name},r=${this.#nonce}`;
    return this.#gs2Header + this.#clientFirstBare;
  }

  /** Answers server-first; throws if the server did not extend our nonce. */
  clientFinal(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const nonce = attrs.get('r') ?? '';
    if (!nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) throw new Error(`server nonce does not extend ours: ${serverFirst}`);
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    const withoutProof = `c=${Buffer.from(this.#gs2Header).toString('base64')},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const salted = pbkdf2Sync(this.#password, salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const clientSignature = hmac(createHash('sha256').update(clientKey).digest(), authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = (clientKey[i] as number) ^ (clientSignature[i] as number);
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** True if server-final carries the signature only a holder of ServerKey can make. */
  verifyServerFinal(serverFinal: string): boolean {
    if (this.#serverSignature === undefined || !serverFinal.startsWith('v=')) return false;
    const got = Buffer.from(serverFinal.slice(2), 'base64');
    return got.length === 32 && timingSafeEqual(got, this.#serverSignature);
  }
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}
