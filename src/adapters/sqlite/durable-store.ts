// The default durable store: sessions, their queued and in-flight messages, retained
// messages and wills in the embedded SQLite file (<data>/culex.db, WAL).
//
// Writes are buffered as (statement, parameters) pairs and applied in one transaction by
// commit(), once per event-loop turn (core/durability.ts). If the transaction fails it is
// rolled back whole and the same batch is tried again on the next commit, so the file is
// always a state the broker really had, and nothing acknowledged is missing from it.
import type { Message } from '../../core/message.js';
import { createMessage } from '../../core/message.js';
import type { ClientIdentity, DeliveryRecord, DurableSnapshot, DurableStore, SessionRecord, WillRecord } from '../../core/ports.js';
import type { SubscriptionOptions } from '../../core/session-state.js';
import type { QoS } from '../../protocol/types.js';
import { propertiesFromJson, propertiesToJson } from '../shared/properties-json.js';
import { migrate, type Migration, type SqliteDatabase, type SqliteStatement } from './database.js';

const MIGRATIONS: readonly Migration[] = [
  {
    name: 'sessions, deliveries, retained messages and wills',
    up: `
      CREATE TABLE sessions (
        client_id       TEXT PRIMARY KEY,
        expiry_interval INTEGER NOT NULL,
        owner           TEXT,
        disconnected_at INTEGER
      ) STRICT;
      CREATE TABLE subscriptions (
        client_id               TEXT    NOT NULL,
        filter                  TEXT    NOT NULL,
        qos                     INTEGER NOT NULL,
        no_local                INTEGER NOT NULL,
        retain_as_published     INTEGER NOT NULL,
        retain_handling         INTEGER NOT NULL,
        subscription_identifier INTEGER,
        PRIMARY KEY (client_id, filter)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE messages (
        id         INTEGER PRIMARY KEY,
        topic      TEXT    NOT NULL,
        payload    BLOB    NOT NULL,
        qos        INTEGER NOT NULL,
        retain     INTEGER NOT NULL,
        properties TEXT,
        origin     TEXT,
        expires_at INTEGER
      ) STRICT;
      CREATE TABLE deliveries (
        client_id        TEXT    NOT NULL,
        seq              INTEGER NOT NULL,
        message_id       INTEGER NOT NULL,
        qos              INTEGER NOT NULL,
        retain           INTEGER NOT NULL,
        subscription_ids TEXT,
        share_group      TEXT,
        packet_id        INTEGER NOT NULL,
        stage            INTEGER NOT NULL,
        PRIMARY KEY (client_id, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE incoming_qos2 (
        client_id TEXT    NOT NULL,
        packet_id INTEGER NOT NULL,
        PRIMARY KEY (client_id, packet_id)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE retained (
        topic      TEXT PRIMARY KEY,
        payload    BLOB    NOT NULL,
        qos        INTEGER NOT NULL,
        properties TEXT,
        origin     TEXT,
        expires_at INTEGER
      ) STRICT;
      CREATE TABLE wills (
        client_id  TEXT PRIMARY KEY,
        topic      TEXT    NOT NULL,
        payload    BLOB    NOT NULL,
        qos        INTEGER NOT NULL,
        retain     INTEGER NOT NULL,
        properties TEXT,
        fire_at    INTEGER
      ) STRICT;
      CREATE TABLE broker_state (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;
    `,
  },
];

export type SqliteSync = 'normal' | 'full';

export interface SqliteDurableStoreOptions {
  /**
   * 'normal' (default): a commit survives a crash of the process (kill -9), not always a
   * power loss. 'full': fsync on every commit, which survives both and costs a disk flush
   * per event-loop turn with writes.
   */
  sync?: SqliteSync;
}

type Op = [SqliteStatement, unknown[]];

interface SessionRow { client_id: string; expiry_interval: number; owner: string | null; disconnected_at: number | null }
interface SubscriptionRow {
  client_id: string;
  filter: string;
  qos: number;
  no_local: number;
  retain_as_published: number;
  retain_handling: number;
  subscription_identifier: number | null;
}
interface MessageRow { id: number; topic: string; payload: Buffer; qos: number; retain: number; properties: string | null; origin: string | null; expires_at: number | null }
interface DeliveryRow {
  client_id: string;
  seq: number;
  message_id: number;
  qos: number;
  retain: number;
  subscription_ids: string | null;
  share_group: string | null;
  packet_id: number;
  stage: number;
}
interface WillRow { client_id: string; topic: string; payload: Buffer; qos: number; retain: number; properties: string | null; fire_at: number | null }

export class SqliteDurableStore implements DurableStore {
  readonly #db: SqliteDatabase;
  #ops: Op[] = [];
  readonly #apply: (ops: Op[]) => void;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: SqliteDatabase, options: SqliteDurableStoreOptions = {}) {
    this.#db = db;
    migrate(db, 'state', MIGRATIONS);
    db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    this.#s = prepare(db);
    this.#apply = db.transaction((ops: Op[]) => {
      for (const [statement, params] of ops) statement.run(...params);
    });
  }

  load(): DurableSnapshot {
    const db = this.#db;
    // messages no delivery carries (a crash between two writes cannot leave them, but an older bug could)
    db.exec('DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM deliveries)');
    const messages = new Map<number, Message>();
    for (const row of db.prepare('SELECT * FROM messages').iterate() as IterableIterator<MessageRow>) {
      messages.set(row.id, messageFromRow(row, row.retain === 1));
    }
    const sessions = new Map<string, DurableSnapshot['sessions'][number]>();
    for (const row of db.prepare('SELECT * FROM sessions').iterate() as IterableIterator<SessionRow>) {
      sessions.set(row.client_id, {
        record: {
          clientId: row.client_id,
          expiryInterval: row.expiry_interval,
          owner: row.owner === null ? undefined : (JSON.parse(row.owner) as ClientIdentity),
          disconnectedAt: row.disconnected_at ?? undefined,
        },
        subscriptions: [],
        deliveries: [],
        incomingQos2: [],
      });
    }
    for (const row of db.prepare('SELECT * FROM subscriptions').iterate() as IterableIterator<SubscriptionRow>) {
      sessions.get(row.client_id)?.subscriptions.push([row.filter, subscriptionFromRow(row)]);
    }
    for (const row of db.prepare('SELECT * FROM deliveries ORDER BY client_id, seq').iterate() as IterableIterator<DeliveryRow>) {
      const session = sessions.get(row.client_id);
      const message = messages.get(row.message_id);
      if (session === undefined || message === undefined) continue;
      session.deliveries.push({ record: deliveryFromRow(row), message });
    }
    for (const row of db.prepare('SELECT client_id, packet_id FROM incoming_qos2').iterate() as IterableIterator<{ client_id: string; packet_id: number }>) {
      sessions.get(row.client_id)?.incomingQos2.push(row.packet_id);
    }
    const retained: Message[] = [];
    for (const row of db.prepare('SELECT * FROM retained').iterate() as IterableIterator<Omit<MessageRow, 'id' | 'retain'>>) {
      retained.push(messageFromRow({ ...row, id: 0, retain: 1 }, true));
    }
    const wills: WillRecord[] = [];
    for (const row of db.prepare('SELECT * FROM wills').iterate() as IterableIterator<WillRow>) wills.push(willFromRow(row));
    const maxMessageId = db.prepare('SELECT coalesce(max(id), 0) FROM messages').pluck().get() as number;
    const lastAlive = db.prepare("SELECT value FROM broker_state WHERE key = 'last_alive'").pluck().get() as number | undefined;
    return { sessions: [...sessions.values()], retained, wills, maxMessageId, lastAlive };
  }

  saveSession(r: SessionRecord): void {
    this.#ops.push([this.#s.saveSession, [r.clientId, r.expiryInterval, r.owner === undefined ? null : JSON.stringify(r.owner), r.disconnectedAt ?? null]]);
  }

  deleteSession(clientId: string): void {
    const s = this.#s;
    this.#ops.push([s.deleteSession, [clientId]], [s.deleteSubscriptions, [clientId]], [s.deleteDeliveries, [clientId]], [s.deleteIncomingAll, [clientId]]);
  }

  saveSubscription(clientId: string, filter: string, o: SubscriptionOptions): void {
    this.#ops.push([
      this.#s.saveSubscription,
      [clientId, filter, o.qos, o.noLocal ? 1 : 0, o.retainAsPublished ? 1 : 0, o.retainHandling, o.subscriptionIdentifier ?? null],
    ]);
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.#ops.push([this.#s.deleteSubscription, [clientId, filter]]);
  }

  saveMessage(id: number, m: Message): void {
    this.#ops.push([this.#s.saveMessage, [id, m.topic, m.payload, m.qos, m.retain ? 1 : 0, propertiesToJson(m.properties), m.origin ?? null, m.expiresAt ?? null]]);
  }

  deleteMessage(id: number): void {
    this.#ops.push([this.#s.deleteMessage, [id]]);
  }

  saveDelivery(clientId: string, d: DeliveryRecord): void {
    this.#ops.push([
      this.#s.saveDelivery,
      [
        clientId,
        d.seq,
        d.messageId,
        d.qos,
        d.retain ? 1 : 0,
        d.subscriptionIdentifiers === undefined ? null : JSON.stringify(d.subscriptionIdentifiers),
        d.shareGroup ?? null,
        d.packetId,
        d.stage === 'pubrel' ? 1 : 0,
      ],
    ]);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, stage: 'publish' | 'pubrel'): void {
    this.#ops.push([this.#s.updateDelivery, [packetId, stage === 'pubrel' ? 1 : 0, clientId, seq]]);
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.#ops.push([this.#s.deleteDelivery, [clientId, seq]]);
  }

  saveIncomingQos2(clientId: string, packetId: number): void {
    this.#ops.push([this.#s.saveIncoming, [clientId, packetId]]);
  }

  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#ops.push([this.#s.deleteIncoming, [clientId, packetId]]);
  }

  saveRetained(m: Message): void {
    this.#ops.push([this.#s.saveRetained, [m.topic, m.payload, m.qos, propertiesToJson(m.properties), m.origin ?? null, m.expiresAt ?? null]]);
  }

  deleteRetained(topic: string): void {
    this.#ops.push([this.#s.deleteRetained, [topic]]);
  }

  saveWill(w: WillRecord): void {
    this.#ops.push([this.#s.saveWill, [w.clientId, w.topic, w.payload, w.qos, w.retain ? 1 : 0, propertiesToJson(w.properties), w.fireAt ?? null]]);
  }

  deleteWill(clientId: string): void {
    this.#ops.push([this.#s.deleteWill, [clientId]]);
  }

  markAlive(now: number): void {
    this.#ops.push([this.#s.markAlive, [now]]);
  }

  commit(): void {
    const ops = this.#ops;
    if (ops.length === 0) return;
    // all or nothing; on failure the batch stays for the next try
    this.#apply(ops);
    this.#ops = [];
  }

  /** Writes not yet committed (for tests and $SYS). */
  get pendingWrites(): number {
    return this.#ops.length;
  }
}

function prepare(db: SqliteDatabase) {
  return {
    saveSession: db.prepare(
      `INSERT INTO sessions (client_id, expiry_interval, owner, disconnected_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET expiry_interval = excluded.expiry_interval, owner = excluded.owner, disconnected_at = excluded.disconnected_at`,
    ),
    deleteSession: db.prepare('DELETE FROM sessions WHERE client_id = ?'),
    deleteSubscriptions: db.prepare('DELETE FROM subscriptions WHERE client_id = ?'),
    deleteDeliveries: db.prepare('DELETE FROM deliveries WHERE client_id = ?'),
    deleteIncomingAll: db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ?'),
    saveSubscription: db.prepare('INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?)'),
    deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND filter = ?'),
    saveMessage: db.prepare('INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    deleteMessage: db.prepare('DELETE FROM messages WHERE id = ?'),
    saveDelivery: db.prepare('INSERT OR REPLACE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    updateDelivery: db.prepare('UPDATE deliveries SET packet_id = ?, stage = ? WHERE client_id = ? AND seq = ?'),
    deleteDelivery: db.prepare('DELETE FROM deliveries WHERE client_id = ? AND seq = ?'),
    saveIncoming: db.prepare('INSERT OR IGNORE INTO incoming_qos2 VALUES (?, ?)'),
    deleteIncoming: db.prepare('DELETE FROM incoming_qos2 WHERE client_id = ? AND packet_id = ?'),
    saveRetained: db.prepare('INSERT OR REPLACE INTO retained VALUES (?, ?, ?, ?, ?, ?)'),
    deleteRetained: db.prepare('DELETE FROM retained WHERE topic = ?'),
    saveWill: db.prepare('INSERT OR REPLACE INTO wills VALUES (?, ?, ?, ?, ?, ?, ?)'),
    deleteWill: db.prepare('DELETE FROM wills WHERE client_id = ?'),
    markAlive: db.prepare("INSERT OR REPLACE INTO broker_state VALUES ('last_alive', ?)"),
  };
}

function messageFromRow(row: MessageRow, retain: boolean): Message {
  return createMessage(row.topic, row.payload, row.qos as QoS, retain, propertiesFromJson(row.properties), row.origin ?? undefined, row.expires_at ?? undefined);
}

function subscriptionFromRow(row: SubscriptionRow): SubscriptionOptions {
  return {
    qos: row.qos as QoS,
    noLocal: row.no_local === 1,
    retainAsPublished: row.retain_as_published === 1,
    retainHandling: row.retain_handling as 0 | 1 | 2,
    subscriptionIdentifier: row.subscription_identifier ?? undefined,
  };
}

function deliveryFromRow(row: DeliveryRow): DeliveryRecord {
  return {
    seq: row.seq,
    messageId: row.message_id,
    qos: row.qos as QoS,
    retain: row.retain === 1,
    subscriptionIdentifiers: row.subscription_ids === null ? undefined : (JSON.parse(row.subscription_ids) as number[]),
    shareGroup: row.share_group ?? undefined,
    packetId: row.packet_id,
    stage: row.stage === 1 ? 'pubrel' : 'publish',
  };
}

function willFromRow(row: WillRow): WillRecord {
  return {
    clientId: row.client_id,
    topic: row.topic,
    payload: row.payload,
    qos: row.qos as QoS,
    retain: row.retain === 1,
    properties: propertiesFromJson(row.properties),
    fireAt: row.fire_at ?? undefined,
  };
}
