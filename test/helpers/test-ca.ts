// Test certificates made with the `openssl` CLI: a CA, a server certificate for 127.0.0.1
// and localhost, a client certificate (CN device-1), and an unrelated second CA with its
// own device-1 client certificate (for "a certificate from another CA is refused").
// EC P-256 keys: each openssl call takes milliseconds.
//
// Made once per process: the set lives in a directory named after the process id, which
// the first caller creates (atomically, by rename) and an exit hook removes. Later callers
// find it there; no module state is kept.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  /** The CA that signs the server and the good client. */
  caCert: string;
  caKey: string;
  /** For 127.0.0.1 and localhost (subjectAltName), signed by the CA. */
  server: CertFiles;
  /** CN=device-1, O=Culex Test, signed by the CA. */
  client: CertFiles;
  /** An unrelated CA and a client certificate it signed (also CN=device-1). */
  otherCaCert: string;
  otherClient: CertFiles;
}

const OPENSSL_HINT = 'openssl is needed to make test certificates: apt-get install openssl';

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(OPENSSL_HINT);
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string, subject: string): Promise<void> {
  await openssl(
    ['req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', subject, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
}

/**
 * Issues a certificate signed by `ca` (the base name of its .crt/.key in `dir`), with a
 * random serial so that each one is distinguishable. Returns the paths.
 */
export async function issueCertificate(
  dir: string,
  ca: string,
  name: string,
  subject: string,
  extensions: readonly string[],
): Promise<CertFiles> {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${extensions.join('\n')}\n`);
  await openssl(['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  await openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '3650', '-out', `${name}.crt`, '-extfile', ext],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export const SERVER_EXTENSIONS = ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE'];
const CLIENT_EXTENSIONS = ['extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE'];

function paths(dir: string): TestCa {
  const f = (name: string): CertFiles => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    server: f('server'),
    client: f('client'),
    otherCaCert: join(dir, 'other-ca.crt'),
    otherClient: f('other-client'),
  };
}

/** The process's test CA set (made on first use). */
export async function testCa(): Promise<TestCa> {
  const dir = join(tmpdir(), `culex-test-ca-${process.pid}`);
  if (existsSync(join(dir, 'complete'))) return paths(dir);
  const work = mkdtempSync(join(tmpdir(), 'culex-test-ca-work-'));
  try {
    await makeCa(work, 'ca', '/O=Culex Test/CN=Culex Test CA');
    await makeCa(work, 'other-ca', '/O=Someone Else/CN=Unrelated CA');
    await issueCertificate(work, 'ca', 'server', '/O=Culex Test/CN=localhost', SERVER_EXTENSIONS);
    await issueCertificate(work, 'ca', 'client', '/O=Culex Test/CN=device-1', CLIENT_EXTENSIONS);
    await issueCertificate(work, 'other-ca', 'other-client', '/O=Someone Else/CN=device-1', CLIENT_EXTENSIONS);
    writeFileSync(join(work, 'complete'), '');
    try {
      renameSync(work, dir);
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    } catch {
      // a concurrent caller in this process got there first: use its set
      rmSync(work, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return paths(dir);
}
