// API tokens over a real Culex broker on TCP: a client connects with user name
// `authorization` and a token as password. A valid token connects as its owner (the identity
// ACLs see); an expired or revoked token is refused with "not authorized" (3.1.1 code 5, v5
// 0x87), an unknown one with "bad user name or password" (4 / 0x86), each with its reason in
// the log. Tokens are created and revoked with `culex tokens` (runTokens) on the same data
// directory while the broker runs, and a revocation leaves already connected clients alone.
// A second broker shows the failed-login back-off on the real (asynchronous) CONNECT path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { LoginBackoff } from '../../src/adapters/auth/login-backoff.js';
import { openDatabase, type SqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SystemClock } from '../../src/adapters/system/system-clock.js';
import { TokenStore } from '../../src/adapters/tokens/token-store.js';
import { createBroker, type CulexBroker } from '../../src/app/create-broker.js';
import { runTokens } from '../../src/cli/tokens.js';
import type { AuthResult, Authenticator, Authorizer, AuthzVerdict, ClientIdentity, ConnectInfo, Logger } from '../../src/core/ports.js';
import { ConnackReturnCode, ReasonCode } from '../../src/protocol/reason-codes.js';
import type { ProtocolVersion } from '../../src/protocol/types.js';
import { tcpTestClient, type TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The smallest authenticator that uses tokens (H1's StandardAuthenticator is the real one):
 * user name `authorization` + a token; nothing else gets in.
 */
class TokenOnlyAuthenticator implements Authenticator {
  readonly #tokens: TokenStore;
  constructor(tokens: TokenStore) {
    this.#tokens = tokens;
  }
  authenticate(info: ConnectInfo): AuthResult {
    if (info.username !== 'authorization' || info.password === undefined) return { ok: false, returnCode: 4, reason: 'not a token login' };
    const verdict = this.#tokens.verify(info.password.toString('utf8'));
    if (verdict.ok) return { ok: true, identity: verdict.owner };
    return { ok: false, returnCode: verdict.reason === 'unknown' ? 4 : 5, reason: `token ${verdict.reason}` };
  }
}

/** Allows everything and remembers the identity it was asked about, per client id. */
class RecordingAuthorizer implements Authorizer {
  readonly identities = new Map<string, string | undefined>();
  canPublish(client: ClientIdentity): AuthzVerdict {
    this.identities.set(client.clientId, client.identity);
    return 'allow';
  }
  canSubscribe(client: ClientIdentity): AuthzVerdict {
    this.identities.set(client.clientId, client.identity);
    return 'allow';
  }
}

interface LogRecord {
  level: string;
  fields: Record<string, unknown>;
  msg: string | undefined;
}

function capturingLogger(records: LogRecord[]): Logger {
  const at = (level: string) => (fields: object, msg?: string) => void records.push({ level, fields: fields as Record<string, unknown>, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** `culex tokens ...` in this process (its own connection to the file, as the CLI's would be). */
async function tokensCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runTokens(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function field(output: string, name: string): string {
  const value = new RegExp(`^${name}: +(\\S+)$`, 'm').exec(output)?.[1];
  assert.ok(value !== undefined, `no "${name}:" in:\n${output}`);
  return value;
}

describe('API tokens at CONNECT (real broker over TCP)', () => {
  let dataDir: string;
  let db: SqliteDatabase;
  let broker: CulexBroker;
  let port: number;
  const logs: LogRecord[] = [];
  const authorizer = new RecordingAuthorizer();
  const clients: TestClient[] = [];
  let seq = 0;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'culex-e2e-tokens-'));
    db = openDatabase(dataDir);
    broker = createBroker({ sysInterval: 0, logger: capturingLogger(logs), authenticator: new TokenOnlyAuthenticator(new TokenStore(db)), authorizer });
    port = (await broker.listen(0, '127.0.0.1')).port;
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await broker.close();
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function connect(version: ProtocolVersion, token: string) {
    const client = await tcpTestClient(port, { version });
    clients.push(client);
    const clientId = `tok-${version}-${seq++}`;
    const connack = await client.connect({ clientId, username: 'authorization', password: Buffer.from(token) });
    return { client, clientId, connack };
  }

  /** The broker's log line for the refused client, with its detail. */
  async function refusalLog(clientId: string): Promise<string> {
    let detail: string | undefined;
    await waitFor(
      () => {
        const rec = logs.find((r) => r.msg === 'connection refused' && r.fields.clientId === clientId);
        detail = rec === undefined ? undefined : String(rec.fields.detail);
        return detail !== undefined;
      },
      { message: () => `a "connection refused" log line for ${clientId}` },
    );
    return detail as string;
  }

  async function create(name: string, ...flags: string[]): Promise<{ token: string; id: string }> {
    const r = await tokensCli('create', name, '--data', dataDir, ...flags);
    assert.equal(r.code, 0, r.stderr);
    return { token: field(r.stdout, 'token'), id: field(r.stdout, 'id') };
  }

  for (const version of [4, 5] as const) {
    test(`v${version === 4 ? '3.1.1' : '5'}: a token created while the broker runs connects, and ACLs see its owner`, async () => {
      const { token } = await create(`meter-${version}`);
      const { client, clientId, connack } = await connect(version, token);
      assert.equal(connack.reasonCode, 0);
      await client.subscribe(`meters/${version}/#`, 1);
      await client.publish(`meters/${version}/reading`, '42', 1);
      const message = await client.nextPublish();
      assert.equal(message.payload.toString(), '42');
      assert.equal(authorizer.identities.get(clientId), `meter-${version}`);
    });
  }

  test('an expired token is refused: 3.1.1 code 5, v5 0x87, "expired" in the log', async () => {
    // issued two minutes ago for one minute (the CLI's smallest lifetime is a second, and the
    // test must not wait for it)
    const past = new TokenStore(db, { now: () => Date.now() - 120_000 });
    const { token } = past.create('old-meter', { expiresAt: Date.now() - 60_000 });
    const v4 = await connect(4, token);
    assert.equal(v4.connack.reasonCode, ConnackReturnCode.NOT_AUTHORIZED);
    await v4.client.closedWithin();
    assert.match(await refusalLog(v4.clientId), /token expired/);
    const v5 = await connect(5, token);
    assert.equal(v5.connack.reasonCode, ReasonCode.NOT_AUTHORIZED);
    await v5.client.closedWithin();
    assert.match(await refusalLog(v5.clientId), /token expired/);
  });

  test('revoking with `culex tokens revoke` refuses the next CONNECT (5 / 0x87) and leaves a connected client alone', async () => {
    const { token, id } = await create('gateway');
    const connected = await connect(4, token);
    assert.equal(connected.connack.reasonCode, 0);
    await connected.client.subscribe('gw/#', 1);

    const revoked = await tokensCli('revoke', id, '--data', dataDir);
    assert.equal(revoked.code, 0, revoked.stderr);

    const v4 = await connect(4, token);
    assert.equal(v4.connack.reasonCode, ConnackReturnCode.NOT_AUTHORIZED);
    assert.match(await refusalLog(v4.clientId), /token revoked/);
    const v5 = await connect(5, token);
    assert.equal(v5.connack.reasonCode, ReasonCode.NOT_AUTHORIZED);
    assert.match(await refusalLog(v5.clientId), /token revoked/);

    // the already connected client keeps its session: it still publishes and receives
    await connected.client.publish('gw/status', 'still here', 1);
    assert.equal((await connected.client.nextPublish()).payload.toString(), 'still here');
    assert.equal(connected.client.closed, false);
  });

  test('an unknown token is refused: 3.1.1 code 4, v5 0x86, "unknown" in the log', async () => {
    const made = await create('real-one');
    const forged = `${made.token.slice(0, -2)}${made.token.endsWith('AA') ? 'BB' : 'AA'}`;
    const v4 = await connect(4, forged);
    assert.equal(v4.connack.reasonCode, ConnackReturnCode.BAD_USERNAME_OR_PASSWORD);
    assert.match(await refusalLog(v4.clientId), /token unknown/);
    const v5 = await connect(5, 'cx_never-issued');
    assert.equal(v5.connack.reasonCode, ReasonCode.BAD_USER_NAME_OR_PASSWORD);
    assert.match(await refusalLog(v5.clientId), /token unknown/);
  });
});

describe('failed-login back-off on a real broker', () => {
  const DELAY_MS = 500;
  let dataDir: string;
  let db: SqliteDatabase;
  let broker: CulexBroker;
  let port: number;
  const clients: TestClient[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'culex-e2e-backoff-'));
    db = openDatabase(dataDir);
    const authenticator = new LoginBackoff(new TokenOnlyAuthenticator(new TokenStore(db)), {
      clock: new SystemClock(),
      delayMs: DELAY_MS,
      maxDelayMs: DELAY_MS * 4,
    });
    broker = createBroker({ sysInterval: 0, authenticator });
    port = (await broker.listen(0, '127.0.0.1')).port;
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await broker.close();
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function timedConnect(token: string): Promise<{ reasonCode: number; ms: number }> {
    const client = await tcpTestClient(port, { version: 5, timeoutMs: 5000 });
    clients.push(client);
    const started = performance.now();
    const connack = await client.connect({ username: 'authorization', password: Buffer.from(token) });
    return { reasonCode: connack.reasonCode, ms: performance.now() - started };
  }

  test('after a wrong token the next login from the address, even a good one, is answered late; then not', async () => {
    const { token } = new TokenStore(db).create('late-meter');
    const wrong = await timedConnect('cx_wrong');
    assert.equal(wrong.reasonCode, ReasonCode.BAD_USER_NAME_OR_PASSWORD);
    const held = await timedConnect(token);
    assert.equal(held.reasonCode, 0, 'answered, not refused');
    assert.ok(held.ms >= DELAY_MS - 5, `held ${held.ms.toFixed(0)} ms, expected at least ${DELAY_MS}`);
    // the success reset it: the next login is answered at once (well under the delay)
    const next = await timedConnect(token);
    assert.equal(next.reasonCode, 0);
    assert.ok(next.ms < DELAY_MS, `answered after ${next.ms.toFixed(0)} ms`);
  });
});
