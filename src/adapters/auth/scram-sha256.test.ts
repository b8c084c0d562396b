// SCRAM-SHA-256 server: the RFC 7677 section 3 exchange byte for byte, then the ways a
// client can get it wrong (each must end in a failure step, never a throw).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AuthSession, AuthStartContext, AuthStep } from '../../core/ports.js';
import { ScramSha256Client } from './scram-sha256-client.test-support.js';
import { MemoryScramCredentialStore, SCRAM_SHA_256, ScramSha256, scramCredentials, type ScramCredentials } from './scram-sha256.js';

// RFC 7677 section 3
const RFC = {
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const CTX: AuthStartContext = { clientId: 'c1', username: undefined, remoteAddress: undefined, reauth: false };
const rfcCredentials: ScramCredentials = scramCredentials(RFC.password, Buffer.from(RFC.salt, 'base64'), 4096);

function method(options: { nonces?: string[]; users?: Record<string, ScramCredentials> } = {}): ScramSha256 {
  const store = new MemoryScramCredentialStore().set(RFC.user, rfcCredentials);
  for (const [name, creds] of Object.entries(options.users ?? {})) store.set(name, creds);
  const nonces = options.nonces;
  let n = 0;
  return new ScramSha256({ store, ...(nonces !== undefined ? { nonce: () => nonces[n++ % nonces.length] as string } : {}) });
}

/** Runs one step synchronously-or-not and returns its answer. */
async function step(session: AuthSession, data: string | Buffer | undefined): Promise<AuthStep> {
  return session.step(typeof data === 'string' ? Buffer.from(data) : data);
}

function text(s: AuthStep): string {
  assert.ok(s.kind !== 'failure', `expected data, got ${JSON.stringify(s)}`);
  return s.data?.toString() ?? '';
}

describe('SCRAM-SHA-256: the RFC 7677 test vector', () => {
  test('server-first and server-final are exactly the RFC messages', async () => {
    const session = method({ nonces: [RFC.serverNonce] }).start(CTX);
    const first = await step(session, RFC.clientFirst);
    assert.equal(first.kind, 'continue');
    assert.equal(text(first), RFC.serverFirst);
    const final = await step(session, RFC.clientFinal);
    assert.equal(final.kind, 'success');
    assert.equal(text(final), RFC.serverFinal);
    assert.equal(final.kind === 'success' ? final.identity : undefined, RFC.user);
  });

  test('the test client reproduces the RFC client messages and accepts the RFC server-final', () => {
    const client = new ScramSha256Client(RFC.user, RFC.password, { nonce: RFC.clientNonce });
    assert.equal(client.clientFirst(), RFC.clientFirst);
    assert.equal(client.clientFinal(RFC.serverFirst), RFC.clientFinal);
    assert.ok(client.verifyServerFinal(RFC.serverFinal));
    assert.ok(!client.verifyServerFinal('v=' + Buffer.alloc(32).toString('base64')));
  });

  test('the method is named SCRAM-SHA-256 and credentials hold no password', () => {
    assert.equal(method().name, SCRAM_SHA_256);
    const creds = scramCredentials('secret-pw');
    assert.equal(creds.storedKey.length, 32);
    assert.equal(creds.serverKey.length, 32);
    assert.equal(creds.iterations, 4096);
    assert.ok(!JSON.stringify(creds).includes('secret-pw'));
  });
});

describe('SCRAM-SHA-256: refusals', () => {
  async function run(password: string, options: { username?: string; tamper?: (final: string) => string } = {}): Promise<AuthStep> {
    const client = new ScramSha256Client(options.username ?? RFC.user, password);
    const session = method().start(CTX);
    const first = await step(session, client.clientFirst());
    assert.equal(first.kind, 'continue');
    const final = client.clientFinal(text(first));
    return step(session, options.tamper ? options.tamper(final) : final);
  }

  test('a random-nonce exchange with the right password succeeds', async () => {
    const client = new ScramSha256Client(RFC.user, RFC.password);
    const session = method().start(CTX);
    const final = await step(session, client.clientFinal(text(await step(session, client.clientFirst()))));
    assert.equal(final.kind, 'success');
    assert.ok(client.verifyServerFinal(text(final)));
  });

  test('a wrong password fails with 0x86', async () => {
    assert.deepEqual(await run('pencil2'), { kind: 'failure', reasonCode: 0x86 });
  });

  test('an unknown user gets a plausible server-first, a stable fake salt, then 0x86', async () => {
    const m = method();
    const salts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const client = new ScramSha256Client('nobody', 'x');
      const session = m.start(CTX);
      const first = text(await step(session, client.clientFirst()));
      assert.match(first, /^r=[^,]+,s=[A-Za-z0-9+/=]+,i=4096$/);
      salts.push(first.split(',')[1] as string);
      assert.deepEqual(await step(session, client.clientFinal(first)), { kind: 'failure', reasonCode: 0x86 });
    }
    assert.equal(salts[0], salts[1]);
  });

  test('a tampered nonce in client-final fails', async () => {
    const tampered = await run(RFC.password, { tamper: (f) => f.replace(/,r=([^,]*)/, (_m, r: string) => `,r=${r}x`) });
    assert.equal(tampered.kind, 'failure');
    const shortened = await run(RFC.password, { tamper: (f) => f.replace(/,r=([^,]*)/, (_m, r: string) => `,r=${r.slice(0, -1)}`) });
    assert.equal(shortened.kind, 'failure');
  });

  test('a tampered proof fails with 0x86; a proof of the wrong length fails', async () => {
    const flipped = await run(RFC.password, {
      tamper: (f) => {
        const at = f.lastIndexOf(',p=');
        const proof = Buffer.from(f.slice(at + 3), 'base64');
        proof[0] = (proof[0] as number) ^ 1;
        return `${f.slice(0, at)},p=${proof.toString('base64')}`;
      },
    });
    assert.deepEqual(flipped, { kind: 'failure', reasonCode: 0x86 });
    const short = await run(RFC.password, { tamper: (f) => `${f.slice(0, f.lastIndexOf(',p='))},p=AAAA` });
    assert.equal(short.kind, 'failure');
  });

  test('a replayed client-final fails in a new exchange, and a finished exchange takes no more steps', async () => {
    const m = method({ nonces: [RFC.serverNonce, 'another-server-nonce'] });
    const a = m.start(CTX);
    await step(a, RFC.clientFirst);
    assert.equal((await step(a, RFC.clientFinal)).kind, 'success');
    assert.equal((await step(a, RFC.clientFinal)).kind, 'failure');
    const b = m.start(CTX);
    assert.equal((await step(b, RFC.clientFirst)).kind, 'continue');
    assert.equal((await step(b, RFC.clientFinal)).kind, 'failure');
  });

  test('channel binding: "p=" is refused; "y,," is accepted; c= must repeat the gs2 header', async () => {
    const m = method();
    assert.equal((await step(m.start(CTX), `p=tls-server-end-point,,n=user,r=abc`)).kind, 'failure');
    const yes = new ScramSha256Client(RFC.user, RFC.password, { gs2Header: 'y,,' });
    const s = m.start(CTX);
    const final = await step(s, yes.clientFinal(text(await step(s, yes.clientFirst()))));
    assert.equal(final.kind, 'success');
    // a client that says "n" in client-first but "y" in client-final
    const other = m.start(CTX);
    const client = new ScramSha256Client(RFC.user, RFC.password);
    const f = client.clientFinal(text(await step(other, client.clientFirst())));
    assert.equal((await step(other, f.replace('c=biws', 'c=eSws'))).kind, 'failure');
  });

  test('an authorization identity, a mandatory extension and an MQTT user name mismatch are refused', async () => {
    const m = method();
    assert.deepEqual(await step(m.start(CTX), 'n,a=admin,n=user,r=abc'), { kind: 'failure', reasonCode: 0x87 });
    assert.equal((await step(m.start(CTX), 'n,,m=ext,n=user,r=abc')).kind, 'failure');
    assert.equal((await step(m.start({ ...CTX, username: 'someone-else' }), RFC.clientFirst)).kind, 'failure');
    assert.equal((await step(m.start({ ...CTX, username: 'user' }), RFC.clientFirst)).kind, 'continue');
  });

  test('user names with "," and "=" travel escaped', async () => {
    const odd = 'a,b=c';
    const m = method({ users: { [odd]: scramCredentials('pw-odd') } });
    const client = new ScramSha256Client(odd, 'pw-odd');
    assert.ok(client.clientFirst().startsWith('n,,n=a=2Cb=3Dc,r='));
    const s = m.start(CTX);
    const final = await step(s, client.clientFinal(text(await step(s, client.clientFirst()))));
    assert.equal(final.kind === 'success' ? final.identity : final.kind, odd);
  });

  test('malformed messages are failures', async () => {
    const m = method();
    const firsts = [
      undefined, '', 'n', 'n,', 'n,,', 'n,,n=user', 'n,,r=abc,n=user', 'n,,n=,r=abc', 'n,,n=user,r=', 'n,,n=us=er,r=abc',
      'n,,n=us=2,r=abc', 'x,,n=user,r=abc', 'n,,n=user,r=a\u00e9', 'n,,n=\u00fcser,r=abc', 'n,,n=user,r=abc' + 'x'.repeat(3000),
    ];
    for (const first of firsts) {
      const data = first === undefined ? undefined : Buffer.from(first, 'utf8');
      assert.equal((await step(m.start(CTX), data)).kind, 'failure', `client-first ${JSON.stringify(first)}`);
    }
    assert.equal((await step(m.start(CTX), Buffer.from([0x6e, 0x2c, 0x2c, 0x00]))).kind, 'failure');
    const finals = [undefined, '', 'c=biws', 'c=biws,r=x', `c=biws,r=${RFC.serverFirst.slice(2, 52)},p=`, `r=x,c=biws,p=AAAA`, `c=biws,r=x,p=!!!`];
    for (const final of finals) {
      const s = method({ nonces: [RFC.serverNonce] }).start(CTX);
      await step(s, RFC.clientFirst);
      assert.equal((await step(s, final)).kind, 'failure', `client-final ${JSON.stringify(final)}`);
    }
  });

  test('any bytes as client-first or client-final: a failure or a continue, never a throw', async () => {
    const m = method({ nonces: [RFC.serverNonce] });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), async (first, final) => {
        const a = await step(m.start(CTX), Buffer.from(first));
        assert.ok(a.kind === 'failure' || a.kind === 'continue');
        const s = m.start(CTX);
        await step(s, RFC.clientFirst);
        assert.equal((await step(s, Buffer.from(final))).kind, 'failure');
      }),
      { numRuns: 300 },
    );
  });

  test('an asynchronous credential store works the same', async () => {
    const inner = new MemoryScramCredentialStore().set(RFC.user, rfcCredentials);
    const m = new ScramSha256({ store: { get: async (u) => inner.get(u) }, nonce: () => RFC.serverNonce });
    const s = m.start(CTX);
    const first = s.step(Buffer.from(RFC.clientFirst));
    assert.ok(first instanceof Promise);
    assert.equal(text(await first), RFC.serverFirst);
    assert.equal(text(await step(s, RFC.clientFinal)), RFC.serverFinal);
  });

  test('scramCredentials refuses weak iteration counts and non-ASCII passwords', () => {
    assert.throws(() => scramCredentials('pw', undefined, 4095), RangeError);
    assert.throws(() => scramCredentials('p\u00e4ss'), TypeError);
    assert.throws(() => scramCredentials('pw', Buffer.alloc(0)), RangeError);
  });
});
