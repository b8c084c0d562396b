import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../../../test/interop/support.js';
import type { AuthResult, ConnectInfo, PeerCertificate } from '../../core/ports.js';
import { PasswordFile, type PasswordVerifier } from './password-file.js';
import { hashPassword } from './password-hash.js';
import { StandardAuthenticator, type TokenCheck, type TokenVerifier } from './standard-authenticator.js';

function info(fields: Partial<ConnectInfo> & { pass?: string }): ConnectInfo {
  const { pass, ...rest } = fields;
  return {
    clientId: 'c1',
    username: undefined,
    password: pass === undefined ? undefined : Buffer.from(pass),
    protocolVersion: 4,
    remoteAddress: '127.0.0.1',
    properties: undefined,
    listener: 'tcp:1883',
    certificate: undefined,
    ...rest,
  };
}

const cert = (commonName: string | undefined): PeerCertificate => ({ commonName, subject: commonName ? `CN=${commonName},O=Acme` : 'O=Acme', fingerprint256: 'AA:BB' });

/** Tokens: "t-good" belongs to alice; "t-old" expired; "t-gone" revoked; others unknown. */
const tokens: TokenVerifier & { seen: string[] } = {
  seen: [],
  verify(token: string): TokenCheck {
    this.seen.push(token);
    if (token === 't-good') return { ok: true, owner: 'alice', id: 'tok1' };
    if (token === 't-old') return { ok: false, reason: 'expired' };
    if (token === 't-gone') return { ok: false, reason: 'revoked' };
    return { ok: false, reason: 'unknown' };
  },
};

async function outcome(r: AuthResult | Promise<AuthResult>): Promise<AuthResult> {
  return r instanceof Promise ? await r : r;
}

function refused(r: AuthResult, code: 4 | 5, reason?: RegExp): void {
  assert.equal(r.ok, false, JSON.stringify(r));
  if (!r.ok) {
    assert.equal(r.returnCode, code, JSON.stringify(r));
    if (reason) assert.match(r.reason ?? '', reason);
  }
}

describe('StandardAuthenticator', () => {
  let dir: string;
  let passwords: PasswordFile;

  before(async () => {
    dir = tempDir('culex-stdauth-');
    const path = join(dir, 'pw');
    writeFileSync(
      path,
      [
        `bob:${await hashPassword('bob-pw')}`,
        `authorization:${await hashPassword('not-a-token')}`,
        // argon2id reference vector: password "password"
        'slow:$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4',
        '',
      ].join('\n'),
    );
    passwords = PasswordFile.load(path);
  });
  after(() => removeDir(dir));

  describe('(a) client certificates on listeners that use them as identity', () => {
    const auth = (): StandardAuthenticator =>
      new StandardAuthenticator({ allowAnonymous: false, passwords, tokens, certificateIdentityListeners: new Set(['tls:8883']) });

    test('a verified certificate is accepted as its common name, without consulting the password file', async () => {
      const r = await outcome(auth().authenticate(info({ listener: 'tls:8883', certificate: cert('device-7'), username: 'bob', pass: 'wrong' })));
      assert.deepEqual(r, { ok: true, identity: 'device-7' });
    });

    test('a certificate without a common name is refused with 5', async () => {
      refused(await outcome(auth().authenticate(info({ listener: 'tls:8883', certificate: cert(undefined) }))), 5, /common name/);
    });

    test('on other listeners a certificate is ignored and the usual checks apply', async () => {
      refused(await outcome(auth().authenticate(info({ listener: 'tls:9883', certificate: cert('device-7') }))), 5);
      const r = await outcome(auth().authenticate(info({ listener: 'tls:9883', certificate: cert('device-7'), username: 'bob', pass: 'bob-pw' })));
      assert.deepEqual(r, { ok: true });
    });
  });

  describe('(b) token logins: user name "authorization", the password is the token', () => {
    let auth: StandardAuthenticator;
    before(() => {
      auth = new StandardAuthenticator({ allowAnonymous: true, passwords, tokens });
    });

    test('a valid token is accepted as its owner', async () => {
      assert.deepEqual(await outcome(auth.authenticate(info({ username: 'authorization', pass: 't-good' }))), { ok: true, identity: 'alice' });
      assert.equal(tokens.seen.at(-1), 't-good');
    });

    test('unknown → 4, expired → 5, revoked → 5, missing or not UTF-8 → 4', async () => {
      refused(await outcome(auth.authenticate(info({ username: 'authorization', pass: 't-nope' }))), 4, /unknown/);
      refused(await outcome(auth.authenticate(info({ username: 'authorization', pass: 't-old' }))), 5, /expired/);
      refused(await outcome(auth.authenticate(info({ username: 'authorization', pass: 't-gone' }))), 5, /revoked/);
      refused(await outcome(auth.authenticate(info({ username: 'authorization' }))), 4);
      refused(await outcome(auth.authenticate({ ...info({ username: 'authorization' }), password: Buffer.from([0xff, 0xfe]) })), 4);
    });

    test('the token path wins over a password-file user named "authorization"', async () => {
      refused(await outcome(auth.authenticate(info({ username: 'authorization', pass: 'not-a-token' }))), 4, /token/);
    });

    test('without a token store, "authorization" is an ordinary user name', async () => {
      const plain = new StandardAuthenticator({ allowAnonymous: false, passwords });
      assert.deepEqual(await outcome(plain.authenticate(info({ username: 'authorization', pass: 'not-a-token' }))), { ok: true });
      refused(await outcome(plain.authenticate(info({ username: 'authorization', pass: 't-good' }))), 4, /bad password/);
    });

    test('a token store that throws becomes a rejected promise (the broker answers "server unavailable")', async () => {
      const broken = new StandardAuthenticator({
        allowAnonymous: true,
        tokens: {
          verify() {
            throw new Error('database is locked');
          },
        },
      });
      const r = broken.authenticate(info({ username: 'authorization', pass: 'x' }));
      assert.ok(r instanceof Promise);
      await assert.rejects(r, /database is locked/);
    });
  });

  describe('(c) the password file', () => {
    for (const allowAnonymous of [false, true]) {
      test(`allow_anonymous ${allowAnonymous}: right password ok; wrong, missing or unknown user → 4`, async () => {
        const auth = new StandardAuthenticator({ allowAnonymous, passwords, tokens });
        assert.deepEqual(await outcome(auth.authenticate(info({ username: 'bob', pass: 'bob-pw' }))), { ok: true });
        refused(await outcome(auth.authenticate(info({ username: 'bob', pass: 'bob-pW' }))), 4, /bad password/);
        refused(await outcome(auth.authenticate(info({ username: 'bob' }))), 4, /no password/);
        refused(await outcome(auth.authenticate(info({ username: 'mallory', pass: 'bob-pw' }))), 4, /unknown user/);
        refused(await outcome(auth.authenticate(info({ username: '', pass: '' }))), 4, /unknown user/);
      });
    }

    test('argon2id users are checked asynchronously', async () => {
      const auth = new StandardAuthenticator({ allowAnonymous: false, passwords });
      const good = auth.authenticate(info({ username: 'slow', pass: 'password' }));
      assert.ok(good instanceof Promise);
      assert.deepEqual(await good, { ok: true });
      refused(await outcome(auth.authenticate(info({ username: 'slow', pass: 'passwore' }))), 4, /bad password/);
    });

    test('a verifier whose promise rejects makes authenticate() reject', async () => {
      const failing: PasswordVerifier = { has: () => true, verify: () => Promise.reject(new Error('busy')) };
      const auth = new StandardAuthenticator({ allowAnonymous: false, passwords: failing });
      await assert.rejects(Promise.resolve(auth.authenticate(info({ username: 'bob', pass: 'x' }))), /busy/);
    });
  });

  describe('(d) anonymous clients', () => {
    test('no user name: allowed iff allow_anonymous (else 5), with or without a password file', async () => {
      for (const passwordsOrNot of [passwords, undefined]) {
        assert.deepEqual(await outcome(new StandardAuthenticator({ allowAnonymous: true, passwords: passwordsOrNot }).authenticate(info({}))), { ok: true });
        refused(await outcome(new StandardAuthenticator({ allowAnonymous: false, passwords: passwordsOrNot }).authenticate(info({}))), 5, /anonymous/);
      }
    });

    test('a user name with no password file counts as anonymous (mosquitto 2.0.11), its password unchecked', async () => {
      assert.deepEqual(await outcome(new StandardAuthenticator({ allowAnonymous: true }).authenticate(info({ username: 'bob', pass: 'anything' }))), { ok: true });
      refused(await outcome(new StandardAuthenticator({ allowAnonymous: false }).authenticate(info({ username: 'bob', pass: 'bob-pw' }))), 5);
      // a token store alone does not vouch for other user names either
      refused(await outcome(new StandardAuthenticator({ allowAnonymous: false, tokens }).authenticate(info({ username: 'bob', pass: 'bob-pw' }))), 5);
    });
  });
});
