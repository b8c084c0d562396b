// The benchmark scenarios: loadgen arguments and the table rows each one produces.
// Every broker runs exactly the same scenarios with exactly the same arguments.

const kilo = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
const fixed = (d) => (v) => v.toFixed(d);

/**
 * @param o {warmup, duration, window, backlog, rate, idleConns, connInflight, settle, payload}
 * A row: label, short (the chart's label), unit, better ('higher' | 'lower'),
 * value(result) -> number, fmt(number) -> string.
 */
export function scenarios(o) {
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
    {
      id: 'idle-mem',
      args: ['--mode', 'idle', '--conns', o.idleConns, '--settle', o.settle, '--setup-timeout', 120],
      rows: [
        {
          label: `RSS per idle connection (${o.idleConns.toLocaleString('en')} conns)`,
          short: 'RSS per idle conn',
          unit: 'KiB',
          better: 'lower',
          value: (r) => (r.rss_after_kib - r.rss_before_kib) / r.conns,
          fmt: fixed(1),
        },
        {
          label: `broker RSS with ${o.idleConns.toLocaleString('en')} idle conns`,
          short: 'RSS, idle conns',
          unit: 'MiB',
          better: 'lower',
          value: (r) => r.rss_after_kib / 1024,
          fmt: fixed(1),
        },
      ],
    },
    {
      // accept rate: connect, CONNECT (a new client id each), CONNACK, close with RST, again,
      // with a fixed number of connections in flight. 100 is mosquitto's listen backlog: more
      // only overflows its accept queue (dropped SYNs, retried after 1 s) without a higher
      // rate; 100 already keeps every broker's core busy. On loopback the kernel's handshake
      // work for both ends mostly lands on the generator's core, so watch its CPU here.
      id: 'conn-rate',
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

/** Generous wall-clock limit for one loadgen run. */
export function timeoutFor(o, id) {
  if (id === 'idle-mem') return (130 + o.settle) * 1000;
  return (Number(o.warmup) + Number(o.duration) + 40) * 1000;
}
