// The benchmark scenarios: loadgen arguments and the table rows each one produces.
// Every broker runs exactly the same scenarios with exactly the same arguments.

const kilo = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
const fixed = (d) => (v) => v.toFixed(d);

/** Transports other than plain TCP: what the labels call them. */
export const TRANSPORT_NAMES = { tls: 'TLS', ws: 'WebSocket', wss: 'WebSocket over TLS' };

/**
 * The same scenario over another transport: same loadgen arguments (run.mjs adds
 * --transport and gives the broker a listener of that type), id `<base>-<transport>`,
 * `baseline` = the TCP scenario it is compared with in the transport-cost table.
 */
function overTransport(base, transport, rowLabel) {
  const name = TRANSPORT_NAMES[transport];
  return {
    id: `${base.id}-${transport}`,
    transport,
    baseline: base.id,
    broker: base.broker,
    args: base.args,
    rows: base.rows.map((row) => ({ ...row, label: rowLabel(row.label, name), short: `${row.short}, ${name}` })),
  };
}

/**
 * @param o {warmup, duration, window, backlog, rate, idleConns, connInflight, settle, payload}
 * A scenario: id, args (loadgen), rows, and optionally broker (setup needs), transport
 * ('tls' | 'ws' | 'wss'; default tcp) and baseline (the id of its TCP scenario).
 * A row: label, short (the chart's label), unit, better ('higher' | 'lower'),
 * value(result) -> number, fmt(number) -> string.
 */
export function scenarios(o) {
  const list = tcpScenarios(o);
  const by = Object.fromEntries(list.map((s) => [s.id, s]));
  const over = (label, name) => `${label}, over ${name}`;
  return [
    ...list,
    // TLS 1.3 (the generator pins it), certificate and cipher in RESULTS.md ("Method")
    overTransport(by['fanin-q0'], 'tls', over),
    overTransport(by.fanout, 'tls', over),
    // every connection does the full handshake: no session resumption
    overTransport(by['conn-rate'], 'tls', () => `TLS connection rate: connect, full TLS handshake, CONNECT, CONNACK, close (${o.connInflight ?? 100} in flight)`),
    overTransport(by['fanin-q0'], 'ws', over),
    overTransport(by.fanout, 'ws', over),
  ];
}

function tcpScenarios(o) {
  const common = ['--payload', o.payload, '--warmup', o.warmup, '--duration', o.duration];
  const inflight = o.connInflight ?? 100; // raw files from before conn-rate have no such option
  const tp = ['--mode', 'throughput', ...common, '--max-backlog', o.backlog, '--window', o.window];
  const rate = (r) => r.recv_rate;
  return [
    {
      id: 'fanin-q0',
      args: [...tp, '--pubs', 10, '--subs', 1, '--qos', 0, '--pub-topic', 'bench/in/%d', '--sub-filter', 'bench/#'],
      rows: [{ label: 'fan-in QoS 0: 10 pubs → 1 sub on `bench/#`', short: 'fan-in QoS 0', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      id: 'fanin-q1',
      args: [...tp, '--pubs', 10, '--subs', 1, '--qos', 1, '--pub-topic', 'bench/in/%d', '--sub-filter', 'bench/#'],
      rows: [{ label: `fan-in QoS 1: 10 pubs (window ${o.window}) → 1 sub on \`bench/#\``, short: 'fan-in QoS 1', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      // the four-packet flow: PUBLISH, PUBREC, PUBREL, PUBCOMP on both sides; the window
      // counts flows without their PUBCOMP, deliveries are counted at PUBLISH
      id: 'fanin-q2',
      args: [...tp, '--pubs', 10, '--subs', 1, '--qos', 2, '--pub-topic', 'bench/in/%d', '--sub-filter', 'bench/#'],
      rows: [{ label: `fan-in QoS 2: 10 pubs (window ${o.window}) → 1 sub on \`bench/#\``, short: 'fan-in QoS 2', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      // durability: the subscriber keeps a persistent session, so every message is stored
      // for it before the publisher's PUBACK (Culex: SQLite, one transaction per loop turn).
      // mosquitto with `persistence true` only writes its file at autosave or shutdown, and
      // aedes runs with its default in-memory persistence: neither stores per message.
      id: 'fanin-q1-durable',
      broker: { persistence: true },
      args: [...tp, '--pubs', 10, '--subs', 1, '--qos', 1, '--sub-clean', 0, '--pub-topic', 'bench/in/%d', '--sub-filter', 'bench/#'],
      rows: [{ label: `fan-in QoS 1 to a persistent session, persistence on (window ${o.window})`, short: 'fan-in QoS 1, durable', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      // two Culex nodes sharing one Redis, all three processes on the broker's core (the same
      // CPU budget as one broker): publishers on node a, the subscriber on node b, so every
      // message crosses Redis. mosquitto and aedes have no cluster: their cell is one broker.
      id: 'cluster-fanin-q1',
      broker: { cluster: true },
      args: [...tp, '--pubs', 10, '--subs', 1, '--qos', 1, '--pub-topic', 'bench/in/%d', '--sub-filter', 'bench/#'],
      rows: [{ label: `fan-in QoS 1 across a two-node cluster (culex; others: one broker) (window ${o.window})`, short: 'fan-in QoS 1, cluster', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      id: 'fanout',
      args: [...tp, '--pubs', 1, '--subs', 50, '--qos', 0, '--pub-topic', 'bench/fanout', '--sub-filter', 'bench/fanout', '--expect', 50],
      rows: [{ label: 'fan-out QoS 0: 1 pub → 50 subs', short: 'fan-out QoS 0', unit: 'deliveries/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      id: 'fanout-q1',
      args: [...tp, '--pubs', 1, '--subs', 50, '--qos', 1, '--pub-topic', 'bench/fanout', '--sub-filter', 'bench/fanout', '--expect', 50],
      rows: [{ label: `fan-out QoS 1: 1 pub (window ${o.window}) → 50 subs`, short: 'fan-out QoS 1', unit: 'deliveries/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      id: 'pairs',
      args: [...tp, '--pubs', 100, '--subs', 100, '--qos', 0, '--pub-topic', 'bench/pair/%d', '--sub-filter', 'bench/pair/%d'],
      rows: [{ label: '100 pub/sub pairs QoS 0 (topic per pair)', short: 'pairs QoS 0', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      id: 'pairs-q1',
      args: [...tp, '--pubs', 100, '--subs', 100, '--qos', 1, '--pub-topic', 'bench/pair/%d', '--sub-filter', 'bench/pair/%d'],
      rows: [{ label: `100 pub/sub pairs QoS 1 (window ${o.window}, topic per pair)`, short: 'pairs QoS 1', unit: 'msg/s', better: 'higher', value: rate, fmt: kilo }],
    },
    {
      id: 'latency',
      args: ['--mode', 'latency', ...common, '--rate', o.rate, '--pubs', 1, '--subs', 1, '--qos', 0, '--pub-topic', 'bench/lat/%d', '--sub-filter', 'bench/lat/%d'],
      rows: [
        { label: `latency p50, ${kilo(o.rate)} msg/s QoS 0, 1 pub → 1 sub`, short: 'latency p50', unit: 'µs', better: 'lower', value: (r) => r.lat_p50_us, fmt: fixed(0) },
        { label: `latency p99, ${kilo(o.rate)} msg/s QoS 0, 1 pub → 1 sub`, short: 'latency p99', unit: 'µs', better: 'lower', value: (r) => r.lat_p99_us, fmt: fixed(0) },
      ],
    },
    // memory per idle connection at three sizes (how it scales); the largest is what the
    // machine's fd limit leaves (one fd per connection in the broker and in the generator)
    ...IDLE_SIZES.map((size) => idleScenario(size.id, size.conns(o), o)),
    {
      // accept rate: connect, CONNECT (a new client id each), CONNACK, close with RST, again,
      // with a fixed number of connections in flight. 100 is mosquitto's listen backlog: more
      // only overflows its accept queue (dropped SYNs, retried after 1 s) without a higher
      // rate; 100 already keeps every broker's core busy. On loopback the kernel's handshake
      // work for both ends mostly lands on the generator's core, so watch its CPU here.
      id: 'conn-rate',
      floor: true,
      args: ['--mode', 'connect', '--concurrency', inflight, '--warmup', o.warmup, '--duration', o.duration],
      rows: [
        {
          label: `connection rate: connect, CONNECT, CONNACK, close (${inflight} in flight)`,
          short: 'connection rate',
          unit: 'conn/s',
          better: 'higher',
          value: (r) => r.conn_rate,
          fmt: kilo,
        },
      ],
    },
  ];
}

/** The idle-memory sizes: 1,000, --idle-conns (10,000) and the most the fd limit allows. */
const IDLE_SIZES = [
  { id: 'idle-mem-1k', conns: () => 1000 },
  { id: 'idle-mem', conns: (o) => o.idleConns },
  { id: 'idle-mem-max', conns: (o) => o.maxIdleConns ?? 19000 },
];

/**
 * Idle clients with a 60 s Keep Alive, as real devices announce, so the broker holds what it
 * tracks keepalive with (no PINGREQ falls in the short settle). `floor`: also measured on
 * bench/node-floor.mjs, the bare Node sockets under every Node broker.
 */
function idleScenario(id, conns, o) {
  const n = conns.toLocaleString('en');
  return {
    id,
    idle: true,
    floor: true,
    args: ['--mode', 'idle', '--conns', conns, '--keepalive', 60, '--settle', o.settle, '--setup-timeout', 120],
    rows: [
      {
        label: `RSS per idle connection (${n} conns, keepalive 60 s)`,
        short: `RSS per idle conn, ${n}`,
        unit: 'KiB',
        better: 'lower',
        value: (r) => (r.rss_after_kib - r.rss_before_kib) / r.conns,
        fmt: fixed(1),
      },
      {
        label: `broker RSS with ${n} idle conns`,
        short: `RSS, ${n} idle conns`,
        unit: 'MiB',
        better: 'lower',
        value: (r) => r.rss_after_kib / 1024,
        fmt: fixed(1),
      },
    ],
  };
}

/** Generous wall-clock limit for one loadgen run. */
export function timeoutFor(o, id) {
  if (id.startsWith('idle-mem')) return (130 + o.settle) * 1000;
  return (Number(o.warmup) + Number(o.duration) + 40) * 1000;
}
