/*
 * loadgen: the MQTT 3.1.1 load generator behind `npm run bench`.
 *
 * One thread, non-blocking sockets, level-triggered epoll (edge-triggered for
 * the short-lived connections of connect mode). It speaks just enough MQTT
 * 3.1.1 to benchmark a broker: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH at
 * QoS 0, 1 and 2, PUBACK and PUBREC/PUBREL/PUBCOMP in both directions.
 * Keepalive is 0, so no PINGREQ is ever needed.
 *
 * Modes:
 *   throughput  P publishers, S subscribers. QoS 0 publishers write batches
 *               of pre-encoded frames as fast as the broker reads them, but
 *               pause while more than a cap of deliveries is outstanding
 *               (--max-backlog floor, two batches per publisher, or
 *               --backlog-ms of the recent delivery rate, whichever is
 *               largest), so loopback socket buffers do not fill with
 *               minutes of backlog. QoS 1 and 2 publishers keep a bounded
 *               window of incomplete flows (--window: PUBLISHes without their
 *               PUBACK, or at QoS 2 without their PUBCOMP; a PUBREC is
 *               answered with PUBREL). The subscribers count deliveries at
 *               PUBLISH, ack them at QoS 1, and at QoS 2 answer PUBREC then
 *               PUBCOMP to the broker's PUBREL. When a loop turn moves
 *               little data the generator naps --coalesce-us so its reads
 *               and writes stay large (fewer syscalls per message).
 *   latency     Like throughput, but publishes are paced at --rate msgs/s in
 *               total (a timerfd tick) and each 64-byte payload carries the
 *               CLOCK_MONOTONIC send time; subscribers record end-to-end
 *               latency samples and report percentiles.
 *   idle        Open --conns connected MQTT clients, wait --settle seconds,
 *               sample the broker's VmRSS before and after. With --keepalive S
 *               the clients announce a Keep Alive (as real devices do), so the
 *               broker holds whatever it tracks keepalive with; no PINGREQ is
 *               sent, so keep --settle below 1.5 × S.
 *   connect     Connection accept rate: --concurrency slots, each in a loop of
 *               TCP connect, CONNECT (a new client id each time), wait for
 *               CONNACK, close with RST, start over. Counts CONNACKs in the
 *               measured window (conn/s) and the connect-to-CONNACK time.
 *
 * Timeline (throughput, latency): connect and subscribe everything, then
 * publish for --warmup seconds (not counted), then --duration seconds
 * (counted: sent, delivered, generator CPU via getrusage, broker CPU via
 * /proc/<pid>/stat if --broker-pid is given), then stop publishing and drain
 * until nothing has arrived for 0.5 s (max 5 s) to count losses. Connect mode
 * has the same warm-up and window, no setup and no drain; it also reports the
 * host's TcpExt ListenDrops over the window (SYNs or handshake ACKs dropped on a
 * full accept queue, each retried by TCP after about 1 s).
 *
 * Transports (--transport, transport.c): tcp (default), tls, ws (WebSocket with
 * the `mqtt` subprotocol at --ws-path) and wss (WebSocket over TLS). The MQTT
 * logic above does not change: it reads and writes through tp_read/tp_write. A new
 * connection runs its TLS handshake and/or WebSocket upgrade before CONNECT, and
 * that time is part of connect mode's connect-to-CONNACK time: every connection of
 * connect mode does the full handshake (one SSL_CTX for the run, no session
 * resumption), so a tls connect row is a TLS connection rate. Closing is abrupt on
 * every transport (RST, no close_notify, no WebSocket close frame). TLS is 1.3 unless
 * --tls-version 1.2; certificates are not verified (loopback, self-signed). WebSocket
 * output is one masked binary frame per write batch, as write-coalescing clients do.
 *
 * Output: one JSON object on stdout. On failure: {"ok":false,"error":"..."}
 * and exit status 1.
 *
 * Build: gcc -O2 -Wall -o loadgen loadgen.c transport.c -lssl -lcrypto
 *        (Linux only: epoll, timerfd; OpenSSL 1.1.1 or 3)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "transport.h"

enum { MODE_THROUGHPUT, MODE_LATENCY, MODE_IDLE, MODE_CONNECT };
enum { ROLE_PUB, ROLE_SUB, ROLE_IDLE, ROLE_CONN };
enum { ST_CONNECTING, ST_HANDSHAKE, ST_WAIT_CONNACK, ST_WAIT_SUBACK, ST_READY, ST_CLOSED };
enum { PH_SETUP, PH_SENDING, PH_DRAIN, PH_SETTLE, PH_DONE };

typedef struct {
  uint8_t *buf;
  size_t len; /* bytes of valid data */
  size_t off; /* bytes already consumed (written, for output buffers) */
  size_t cap;
} buf_t;

typedef struct conn {
  int fd;
  int role;
  int idx;
  int state;
  uint32_t events;
  buf_t in;
  buf_t out;
  /* publisher */
  const uint8_t *frame; /* one pre-encoded PUBLISH for this publisher */
  size_t flen;
  size_t id_off; /* offset of the packet id in frame (QoS 1, 2) */
  size_t ts_off; /* offset of the payload (timestamp) in frame */
  uint8_t *chunk; /* QoS 0: many copies of frame, written cyclically */
  size_t chunk_len, chunk_off;
  uint64_t bytes_pub; /* QoS 0 bytes of chunk written */
  uint64_t sent;
  int inflight;
  uint16_t next_id;
  uint8_t *idmap; /* 65536 bits: packet ids awaiting PUBACK (QoS 2: PUBCOMP) */
  uint64_t t_start; /* connect mode: when this connection's connect() was issued (ns) */
  /* subscriber */
  uint64_t recv;
  char *filter;
  char client_id[24];
  tp_t tp; /* the transport on fd: tcp, tls, ws or wss */
} conn_t;

/* ---- options ---- */
static const char *o_host = "127.0.0.1";
static int o_port = 0;
static int o_sub_port = 0; /* subscribers connect here when set (a second cluster node) */
static int o_mode = MODE_THROUGHPUT;
static int o_pubs = 1, o_subs = 1, o_conns = 0;
static int o_qos = 0;
static int o_sub_clean = 1; /* 0: subscribers keep a persistent session (clean session 0) */
static int o_payload = 64;
static double o_warmup = 2.0, o_duration = 10.0, o_settle = 2.0;
static double o_drain_quiet = 0.5, o_drain_max = 5.0;
static int o_window = 100;
static double o_rate = 10000;
static int o_expect = 1; /* deliveries expected per publish */
static const char *o_pub_topic = "bench/in/%d";
static const char *o_sub_filter = "bench/#";
static int o_broker_pid = 0;
static int o_keepalive = 0;     /* CONNECT Keep Alive, seconds (idle clients of real devices use 30-60) */
static int o_concurrency = 256; /* connects in flight (idle setup; connect mode: the slots) */
static double o_setup_timeout = 60.0;
static int o_chunk = 0;        /* publisher write batch; default clamp(1 MiB / pubs, 4 KiB, 64 KiB) */
/* Outstanding deliveries (sent x expect - received) before publishers pause; 0 = open loop.
   The cap actually used is the largest of this floor, two write batches per publisher, and
   --backlog-ms worth of the delivery rate seen over the last 100 ms. */
static long o_max_backlog = 0;
static double o_backlog_ms = 50;
static double o_stall = 1.0;   /* gated this long without a delivery: count the backlog as lost */
static int o_busy_poll = 0;    /* latency: spin in epoll_wait(0) instead of sleeping */
static int o_coalesce_us = 200; /* throughput: nap this long when a loop turn moved little data */
static int o_transport = TP_TCP;
static int o_tls_version = 13;
static const char *o_ws_path = "/mqtt";

/* ---- state ---- */
static int g_ep;
static conn_t *g_conns;
static int g_nconns;
static int g_phase = PH_SETUP;
static int g_ready, g_started, g_pending_connects;
static uint64_t g_sent, g_recv, g_acked;
static uint64_t *g_lat;
static size_t g_lat_n, g_lat_cap;
static int g_measuring;
static int g_tfd = -1;
static uint64_t g_ticks;
static uint64_t g_dropped; /* deliveries written off by stall detection */
static uint64_t g_stalls;
static size_t g_io_bytes; /* bytes moved in the current loop turn */
static double g_cap, g_cap_max;
static int g_pid;
static uint64_t g_connacks, g_conn_errors; /* connect mode */
static char g_negotiated[128]; /* TLS version, cipher and group of the first handshake */

/* Outstanding deliveries (published but not yet delivered), minus written-off ones. */
static int gated(void) {
  if (!o_max_backlog) return 0;
  int64_t out = (int64_t)(g_sent * (uint64_t)o_expect) - (int64_t)g_recv - (int64_t)g_dropped;
  return out >= (int64_t)g_cap;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void json_escape_print(const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    if ((unsigned char)*s < 0x20) { putchar(' '); continue; }
    putchar(*s);
  }
}

static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("{\"ok\":false,\"error\":\"");
  json_escape_print(msg);
  printf("\",\"phase\":%d,\"ready\":%d,\"conns\":%d}\n", g_phase, g_ready, g_nconns);
  fflush(stdout);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) fail("out of memory");
  return p;
}

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  if (b->off > 0) { /* compact first */
    memmove(b->buf, b->buf + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->len + extra <= b->cap) return;
  }
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra) cap *= 2;
  b->buf = realloc(b->buf, cap);
  if (!b->buf) fail("out of memory");
  b->cap = cap;
}

static size_t varint(uint8_t *p, size_t n) {
  size_t i = 0;
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n) b |= 0x80;
    p[i++] = b;
  } while (n);
  return i;
}

/* ---- /proc readers for the broker ---- */
static long read_rss_kib(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) { kib = strtol(line + 6, NULL, 10); break; }
  fclose(f);
  return kib;
}

static double read_proc_cpu_s(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* comm may contain spaces */
  if (!p) return -1;
  p += 2; /* now at field 3 (state) */
  unsigned long ut = 0, st = 0;
  /* fields 3..13 skipped, 14 = utime, 15 = stime */
  if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* A TcpExt counter of /proc/net/netstat (e.g. ListenOverflows), -1 if unreadable. */
static long long read_tcpext(const char *name) {
  char names[4096], values[4096];
  FILE *f = fopen("/proc/net/netstat", "r");
  if (!f) return -1;
  long long v = -1;
  while (fgets(names, sizeof names, f) && fgets(values, sizeof values, f)) {
    if (strncmp(names, "TcpExt:", 7)) continue;
    char *sn, *sv;
    char *n = strtok_r(names, " \n", &sn), *x = strtok_r(values, " \n", &sv);
    while ((n = strtok_r(NULL, " \n", &sn)) && (x = strtok_r(NULL, " \n", &sv)))
      if (!strcmp(n, name)) { v = atoll(x); break; }
    break;
  }
  fclose(f);
  return v;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- packet builders ---- */
static void put_str(buf_t *b, const char *s) {
  size_t n = strlen(s);
  b->buf[b->len++] = n >> 8;
  b->buf[b->len++] = n & 0xff;
  memcpy(b->buf + b->len, s, n);
  b->len += n;
}

static void queue_connect(conn_t *c) {
  size_t idl = strlen(c->client_id);
  size_t rl = 10 + 2 + idl;
  buf_reserve(&c->out, rl + 5);
  buf_t *b = &c->out;
  b->buf[b->len++] = 0x10;
  b->len += varint(b->buf + b->len, rl);
  put_str(b, "MQTT");
  b->buf[b->len++] = 4;    /* protocol level 3.1.1 */
  /* clean session, except for subscribers asked to keep a persistent session */
  b->buf[b->len++] = (c->role == ROLE_SUB && !o_sub_clean) ? 0x00 : 0x02;
  b->buf[b->len++] = (uint8_t)(o_keepalive >> 8); /* keepalive (--keepalive; default 0) */
  b->buf[b->len++] = (uint8_t)(o_keepalive & 0xff);
  put_str(b, c->client_id);
}

static void queue_subscribe(conn_t *c) {
  size_t fl = strlen(c->filter);
  size_t rl = 2 + 2 + fl + 1;
  buf_reserve(&c->out, rl + 5);
  buf_t *b = &c->out;
  b->buf[b->len++] = 0x82;
  b->len += varint(b->buf + b->len, rl);
  b->buf[b->len++] = 0;
  b->buf[b->len++] = 1; /* packet id 1 */
  put_str(b, c->filter);
  b->buf[b->len++] = (uint8_t)o_qos;
}

/* PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70: all a packet id and nothing else. */
static void queue_ack(conn_t *c, uint8_t type, const uint8_t *id) {
  buf_reserve(&c->out, 4);
  uint8_t *p = c->out.buf + c->out.len;
  p[0] = type;
  p[1] = 2;
  p[2] = id[0];
  p[3] = id[1];
  c->out.len += 4;
}

/* Pre-encode the PUBLISH frame of publisher c. */
static void build_frame(conn_t *c) {
  char topic[256];
  snprintf(topic, sizeof topic, o_pub_topic, c->idx);
  size_t tl = strlen(topic);
  size_t rl = 2 + tl + (o_qos ? 2 : 0) + o_payload;
  uint8_t *f = xmalloc(rl + 5);
  size_t i = 0;
  f[i++] = 0x30 | (o_qos << 1);
  i += varint(f + i, rl);
  f[i++] = tl >> 8;
  f[i++] = tl & 0xff;
  memcpy(f + i, topic, tl);
  i += tl;
  c->id_off = i;
  if (o_qos) { f[i++] = 0; f[i++] = 1; }
  c->ts_off = i;
  for (int k = 0; k < o_payload; k++) f[i + k] = (uint8_t)('a' + k % 26);
  i += o_payload;
  c->frame = f;
  c->flen = i;
  if (o_qos == 0 && o_mode == MODE_THROUGHPUT) {
    size_t n = (size_t)o_chunk / c->flen;
    if (n < 1) n = 1;
    c->chunk_len = n * c->flen;
    c->chunk = xmalloc(c->chunk_len);
    for (size_t k = 0; k < n; k++) memcpy(c->chunk + k * c->flen, f, c->flen);
  }
}

/* ---- epoll plumbing ---- */
static void set_events(conn_t *c, uint32_t ev) {
  if (c->events == ev || c->state == ST_CLOSED) return;
  struct epoll_event e = { .events = ev, .data.ptr = c };
  if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &e) < 0) fail("epoll_ctl: %s", strerror(errno));
  c->events = ev;
}

static int unpaced_qos0_pub(const conn_t *c) {
  return c->role == ROLE_PUB && g_phase == PH_SENDING && o_qos == 0 && o_mode == MODE_THROUGHPUT;
}

/* Bytes waiting to go out: MQTT packets in c->out, or the transport's own (WebSocket frames). */
static int out_pending(const conn_t *c) { return c->out.len > c->out.off || tp_out_pending(&c->tp); }

static void update_events(conn_t *c) {
  uint32_t ev = EPOLLIN;
  if (c->state == ST_CONNECTING) ev = EPOLLOUT;
  else if (c->state == ST_HANDSHAKE) ev = c->tp.want;
  else if (out_pending(c) || c->tp.rd_wants_out || unpaced_qos0_pub(c)) ev |= EPOLLOUT;
  set_events(c, ev);
}

/* Close the socket (which also leaves the epoll set) and free its transport state. */
static void conn_close(conn_t *c) {
  tp_close(&c->tp);
  close(c->fd);
  c->state = ST_CLOSED;
}

static void conn_lost(conn_t *c, const char *why) {
  if (c->role == ROLE_CONN) { /* connect mode: count it; the slot starts over */
    g_conn_errors++;
    g_pending_connects--;
    conn_close(c);
    return;
  }
  if (g_phase == PH_DRAIN || g_phase == PH_DONE) {
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    conn_close(c);
    return;
  }
  fail("%s connection %d (%s): %s", c->role == ROLE_PUB ? "publisher" : c->role == ROLE_SUB ? "subscriber" : "idle",
       c->idx, c->client_id, why);
}

/* Write what is pending in c->out (after the transport's own bytes). Returns 0 when it
   would block. After a block the same bytes are offered again (TLS requires it). */
static int flush_out(conn_t *c) {
  int r = tp_flush(&c->tp);
  if (r <= 0) {
    if (r < 0) conn_lost(c, tp_error(&c->tp));
    return 0;
  }
  while (c->out.off < c->out.len) {
    ssize_t n = tp_write(&c->tp, c->out.buf + c->out.off, c->out.len - c->out.off);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return 0;
      conn_lost(c, tp_error(&c->tp));
      return 0;
    }
    c->out.off += n;
    g_io_bytes += n;
  }
  c->out.off = c->out.len = 0;
  return 1;
}

/* QoS 0 open-loop publishing straight from the pre-encoded chunk. */
static void write_chunk(conn_t *c) {
  for (int rounds = 0; rounds < 4 && !gated(); rounds++) {
    ssize_t n = tp_write(&c->tp, c->chunk + c->chunk_off, c->chunk_len - c->chunk_off);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      conn_lost(c, tp_error(&c->tp));
      return;
    }
    g_io_bytes += n;
    c->chunk_off += n;
    if (c->chunk_off == c->chunk_len) c->chunk_off = 0;
    c->bytes_pub += n;
    uint64_t s = c->bytes_pub / c->flen;
    g_sent += s - c->sent;
    c->sent = s;
  }
}

/* Append n PUBLISH frames to c->out (QoS 1 ids and/or timestamps patched in). */
static void append_publishes(conn_t *c, int n, uint64_t ts) {
  buf_reserve(&c->out, (size_t)n * c->flen);
  for (int k = 0; k < n; k++) {
    uint8_t *p = c->out.buf + c->out.len;
    memcpy(p, c->frame, c->flen);
    if (o_qos) {
      uint16_t id = c->next_id;
      while (id == 0 || (c->idmap[id >> 3] & (1 << (id & 7)))) id++;
      c->next_id = id + 1;
      c->idmap[id >> 3] |= 1 << (id & 7);
      c->inflight++;
      p[c->id_off] = id >> 8;
      p[c->id_off + 1] = id & 0xff;
    }
    if (ts && o_payload >= 8) memcpy(p + c->ts_off, &ts, 8);
    c->out.len += c->flen;
    c->sent++;
    g_sent++;
  }
}

/* QoS 1 and 2 throughput: refill up to the window once the previous batch is out. */
static void pump_window(conn_t *c) {
  if (c->role != ROLE_PUB || g_phase != PH_SENDING || o_qos == 0 || o_mode != MODE_THROUGHPUT) return;
  if (c->out.len > c->out.off || gated()) return;
  int room = o_window - c->inflight;
  if (room <= 0) return;
  int max = (int)(o_chunk / c->flen);
  if (room > max) room = max;
  append_publishes(c, room, 0);
  flush_out(c);
}

/* ---- incoming frames ---- */
/* One latency sample (now - since, ns) for the percentiles. */
static void lat_sample(uint64_t since) {
  uint64_t now = now_ns();
  if (g_lat_n == g_lat_cap) {
    g_lat_cap = g_lat_cap ? g_lat_cap * 2 : 65536;
    g_lat = realloc(g_lat, g_lat_cap * sizeof *g_lat);
    if (!g_lat) fail("out of memory");
  }
  g_lat[g_lat_n++] = now > since ? now - since : 0;
}

static void on_packet(conn_t *c, uint8_t h, const uint8_t *body, size_t len) {
  switch (h >> 4) {
  case 2: /* CONNACK */
    if (c->state != ST_WAIT_CONNACK) fail("unexpected CONNACK on %s", c->client_id);
    if (len < 2 || body[1] != 0) fail("CONNACK refused (rc=%d) for %s", len >= 2 ? body[1] : -1, c->client_id);
    g_pending_connects--;
    if (c->role == ROLE_CONN) { /* handle_connect_event closes it and starts the next one */
      c->state = ST_READY;
      g_connacks++;
      if (g_measuring == 1) lat_sample(c->t_start);
      break;
    }
    if (c->role == ROLE_SUB) {
      queue_subscribe(c);
      c->state = ST_WAIT_SUBACK;
    } else {
      c->state = ST_READY;
      g_ready++;
    }
    break;
  case 9: /* SUBACK */
    if (c->state != ST_WAIT_SUBACK) fail("unexpected SUBACK on %s", c->client_id);
    if (len < 3 || body[2] == 0x80) fail("SUBSCRIBE refused for %s", c->client_id);
    c->state = ST_READY;
    g_ready++;
    break;
  case 3: { /* PUBLISH */
    int qos = (h >> 1) & 3;
    if (len < 2) fail("short PUBLISH");
    size_t tl = ((size_t)body[0] << 8) | body[1];
    size_t off = 2 + tl;
    if (qos) {
      if (len < off + 2) fail("short PUBLISH");
      queue_ack(c, qos == 1 ? 0x40 : 0x50, body + off); /* PUBACK, or PUBREC at QoS 2 */
      off += 2;
    }
    c->recv++;
    g_recv++;
    if (o_mode == MODE_LATENCY && g_measuring == 1 && len >= off + 8) {
      uint64_t ts;
      memcpy(&ts, body + off, 8);
      lat_sample(ts);
    }
    break;
  }
  case 4:   /* PUBACK: a QoS 1 flow is complete */
  case 7: { /* PUBCOMP: a QoS 2 flow is complete */
    if (len < 2 || !c->idmap) break;
    uint16_t id = (uint16_t)((body[0] << 8) | body[1]);
    if (c->idmap[id >> 3] & (1 << (id & 7))) {
      c->idmap[id >> 3] &= ~(1 << (id & 7));
      c->inflight--;
      g_acked++;
    }
    break;
  }
  case 5: /* PUBREC (we published at QoS 2): release it; the id stays in flight until PUBCOMP */
    if (len >= 2) queue_ack(c, 0x62, body);
    break;
  case 6: /* PUBREL (a QoS 2 delivery to us): complete it */
    if (len >= 2) queue_ack(c, 0x70, body);
    break;
  default:
    break; /* PINGRESP, UNSUBACK, ...: not expected, ignored */
  }
}

static void parse_in(conn_t *c) {
  buf_t *b = &c->in;
  size_t p = b->off;
  while (b->len - p >= 2) {
    uint8_t h = b->buf[p];
    size_t rl = 0, mul = 1, i = p + 1;
    int done = 0, k;
    for (k = 0; k < 4 && i < b->len; k++) {
      uint8_t x = b->buf[i++];
      rl += (x & 127) * mul;
      mul *= 128;
      if (!(x & 128)) { done = 1; break; }
    }
    if (!done) {
      if (k == 4) fail("malformed remaining length from broker");
      break;
    }
    if (b->len - i < rl) break;
    on_packet(c, h, b->buf + i, rl);
    p = i + rl;
  }
  b->off = p;
  if (b->off == b->len) b->off = b->len = 0;
  /* a frame larger than the buffer: make room for all of it (buf_reserve compacts first) */
  if (b->len - b->off >= 2) {
    size_t rl = 0, mul = 1, i = b->off + 1;
    for (int k = 0; k < 4 && i < b->len; k++) {
      uint8_t x = b->buf[i++];
      rl += (x & 127) * mul;
      mul *= 128;
      if (!(x & 128)) break;
    }
    size_t need = (i - b->off) + rl;
    if (need > b->cap - b->off) buf_reserve(b, need - (b->len - b->off));
  }
}

static void do_read(conn_t *c) {
  /* past 8 rounds, go on only while the transport holds bytes that epoll cannot see */
  for (int rounds = 0; rounds < 8 || tp_buffered(&c->tp); rounds++) {
    if (c->in.cap - c->in.len < c->in.cap / 4) buf_reserve(&c->in, c->in.cap / 4 + 1);
    size_t room = c->in.cap - c->in.len;
    int more;
    ssize_t n = tp_read(&c->tp, c->in.buf + c->in.len, room, &more);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      conn_lost(c, tp_error(&c->tp));
      return;
    }
    if (n == 0) {
      conn_lost(c, "closed by broker");
      return;
    }
    c->in.len += n;
    g_io_bytes += n;
    parse_in(c);
    if (c->role == ROLE_CONN && c->state == ST_READY) return; /* CONNACK: the caller closes it */
    if (!more) break;
  }
  if (out_pending(c)) flush_out(c);
}

/* ---- connection setup ---- */
static struct sockaddr_in g_addr, g_sub_addr;

static void send_connect(conn_t *c) {
  queue_connect(c);
  c->state = ST_WAIT_CONNACK;
  flush_out(c);
}

static const struct sockaddr_in *conn_addr(const conn_t *c) {
  return (c->role == ROLE_SUB && o_sub_port > 0) ? &g_sub_addr : &g_addr;
}

/* The TLS handshake and/or WebSocket upgrade, then CONNECT (tcp: CONNECT at once). */
static void handshake_step(conn_t *c) {
  int r = tp_handshake(&c->tp);
  if (r == 0) return; /* update_events waits for c->tp.want */
  if (r < 0) {
    if (c->role == ROLE_CONN) conn_lost(c, tp_error(&c->tp));
    else fail("%s handshake with %s:%d: %s", tp_name(o_transport), o_host, ntohs(conn_addr(c)->sin_port), tp_error(&c->tp));
    return;
  }
  if (!g_negotiated[0]) tp_describe(&c->tp, g_negotiated, sizeof g_negotiated);
  send_connect(c);
  /* bytes the handshake already took off the socket: epoll will not report them */
  if (c->state == ST_WAIT_CONNACK && tp_buffered(&c->tp)) do_read(c);
}

/* TCP is connected: start the transport. */
static void begin_transport(conn_t *c) {
  tp_open(&c->tp, c->fd, ntohs(conn_addr(c)->sin_port));
  c->state = ST_HANDSHAKE;
  handshake_step(c);
}

static void start_connect(conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: %s (raise ulimit -n?)", strerror(errno));
  int one = 1;
  /* connect mode writes one CONNECT per connection: no Nagle delay to avoid, save the call */
  if (c->role != ROLE_CONN) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct linger lg = { .l_onoff = 1, .l_linger = 0 }; /* close with RST: no TIME_WAIT pile-up */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  c->fd = fd;
  c->state = ST_CONNECTING;
  /* connect mode: edge-triggered for both directions from the start, never modified, and
     close() removes it: three fewer epoll_ctl calls per connection */
  c->events = c->role == ROLE_CONN ? EPOLLIN | EPOLLOUT | EPOLLET : EPOLLOUT;
  c->in.off = c->in.len = c->out.off = c->out.len = 0;
  if (c->role == ROLE_CONN) { /* a new client id per connection: no session takeovers */
    snprintf(c->client_id, sizeof c->client_id, "lg%dc%llu", g_pid, (unsigned long long)g_started);
    c->t_start = now_ns();
  }
  struct epoll_event e = { .events = c->events, .data.ptr = c };
  if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &e) < 0) fail("epoll_ctl add: %s", strerror(errno));
  const struct sockaddr_in *to = conn_addr(c);
  if (connect(fd, (const struct sockaddr *)to, sizeof *to) < 0 && errno != EINPROGRESS)
    fail("connect: %s%s", strerror(errno), errno == EADDRNOTAVAIL ? " (client ports exhausted?)" : "");
  g_started++;
  g_pending_connects++;
}

static void on_connected(conn_t *c) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err && c->role == ROLE_CONN) {
    conn_lost(c, strerror(err));
    return;
  }
  if (err) fail("connect to %s:%d: %s", o_host, ntohs(conn_addr(c)->sin_port), strerror(err));
  begin_transport(c);
}

/* Connect mode: after CONNACK (or an error), close with RST and start the next connection. */
static void handle_connect_event(conn_t *c, uint32_t ev) {
  int was_handshaking = c->state == ST_HANDSHAKE;
  if (c->state == ST_CONNECTING) {
    if (ev & (EPOLLERR | EPOLLHUP)) on_connected(c); /* reads SO_ERROR: counted, closed */
    else if (ev & EPOLLOUT) begin_transport(c);
  } else if (c->state == ST_HANDSHAKE) {
    handshake_step(c); /* edge-triggered: each step runs until the socket would block */
  } else if (out_pending(c) && (ev & EPOLLOUT)) {
    flush_out(c);
  }
  /* tls/ws: a CONNECT sent at the end of a handshake step gets no edge of its own to read on */
  if (c->state == ST_WAIT_CONNACK && ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || was_handshaking || c->tp.rd_wants_out)) do_read(c);
  if (c->state == ST_READY) conn_close(c);
  if (c->state == ST_CLOSED && g_phase == PH_SENDING) start_connect(c);
}

static void handle_event(conn_t *c, uint32_t ev) {
  if (c->role == ROLE_CONN) {
    handle_connect_event(c, ev);
    return;
  }
  if (c->state == ST_CLOSED) return;
  if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE) {
    if (c->state == ST_HANDSHAKE) handshake_step(c);
    else if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
    if (c->state != ST_CLOSED) update_events(c);
    return;
  }
  if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || ((ev & EPOLLOUT) && c->tp.rd_wants_out)) do_read(c);
  if (c->state == ST_CLOSED) return;
  if (ev & EPOLLOUT) {
    if (flush_out(c) && unpaced_qos0_pub(c)) write_chunk(c);
  }
  if (c->state == ST_CLOSED) return;
  pump_window(c);
  update_events(c);
}

/* Latency mode: one publish per timer tick, round-robin over publishers. */
static void on_tick(void) {
  uint64_t n;
  if (read(g_tfd, &n, sizeof n) != sizeof n) return;
  if (g_phase != PH_SENDING) return;
  if (n > 1000) n = 1000; /* we fell behind: do not burst more than this */
  uint64_t ts = now_ns();
  for (uint64_t k = 0; k < n; k++) {
    conn_t *c = &g_conns[o_subs + (g_ticks++ % o_pubs)];
    append_publishes(c, 1, ts);
  }
  for (int i = 0; i < o_pubs; i++) {
    conn_t *c = &g_conns[o_subs + i];
    if (out_pending(c)) flush_out(c);
    update_events(c);
  }
}

/* ---- main ---- */
static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port N [--sub-port N] [--host H] [--mode throughput|latency|idle|connect]\n"
          "  [--pubs P] [--subs S] [--conns N] [--qos 0|1|2] [--sub-clean 0|1] [--payload BYTES]\n"
          "  [--warmup S] [--duration S] [--settle S] [--window N] [--rate MSGS_PER_S]\n"
          "  [--pub-topic FMT(%%d=publisher)] [--sub-filter FMT(%%d=subscriber)] [--expect N]\n"
          "  [--broker-pid PID] [--concurrency N] [--setup-timeout S] [--chunk BYTES] [--keepalive S]\n"
          "  [--max-backlog DELIVERIES] [--backlog-ms MS] [--stall S] [--coalesce-us US] [--busy-poll 0|1]\n"
          "  [--transport tcp|tls|ws|wss] [--tls-version 1.2|1.3] [--ws-path PATH]\n");
  exit(2);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(double p) {
  if (!g_lat_n) return -1;
  size_t i = (size_t)(p * (g_lat_n - 1) + 0.5);
  return g_lat[i] / 1000.0;
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the runner */
  signal(SIGPIPE, SIG_IGN);        /* a write to a closed socket is an error, not a death */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) o_host = v;
    else if (!strcmp(a, "--port")) o_port = atoi(v);
    else if (!strcmp(a, "--sub-port")) o_sub_port = atoi(v);
    else if (!strcmp(a, "--mode")) {
      if (!strcmp(v, "throughput")) o_mode = MODE_THROUGHPUT;
      else if (!strcmp(v, "latency")) o_mode = MODE_LATENCY;
      else if (!strcmp(v, "idle")) o_mode = MODE_IDLE;
      else if (!strcmp(v, "connect")) o_mode = MODE_CONNECT;
      else usage();
    } else if (!strcmp(a, "--pubs")) o_pubs = atoi(v);
    else if (!strcmp(a, "--subs")) o_subs = atoi(v);
    else if (!strcmp(a, "--conns")) o_conns = atoi(v);
    else if (!strcmp(a, "--qos")) o_qos = atoi(v);
    else if (!strcmp(a, "--sub-clean")) o_sub_clean = atoi(v);
    else if (!strcmp(a, "--payload")) o_payload = atoi(v);
    else if (!strcmp(a, "--warmup")) o_warmup = atof(v);
    else if (!strcmp(a, "--duration")) o_duration = atof(v);
    else if (!strcmp(a, "--settle")) o_settle = atof(v);
    else if (!strcmp(a, "--window")) o_window = atoi(v);
    else if (!strcmp(a, "--rate")) o_rate = atof(v);
    else if (!strcmp(a, "--pub-topic")) o_pub_topic = v;
    else if (!strcmp(a, "--sub-filter")) o_sub_filter = v;
    else if (!strcmp(a, "--expect")) o_expect = atoi(v);
    else if (!strcmp(a, "--broker-pid")) o_broker_pid = atoi(v);
    else if (!strcmp(a, "--concurrency")) o_concurrency = atoi(v);
    else if (!strcmp(a, "--keepalive")) o_keepalive = atoi(v);
    else if (!strcmp(a, "--setup-timeout")) o_setup_timeout = atof(v);
    else if (!strcmp(a, "--chunk")) o_chunk = atoi(v);
    else if (!strcmp(a, "--max-backlog")) o_max_backlog = atol(v);
    else if (!strcmp(a, "--backlog-ms")) o_backlog_ms = atof(v);
    else if (!strcmp(a, "--stall")) o_stall = atof(v);
    else if (!strcmp(a, "--coalesce-us")) o_coalesce_us = atoi(v);
    else if (!strcmp(a, "--busy-poll")) o_busy_poll = atoi(v);
    else if (!strcmp(a, "--transport")) {
      if ((o_transport = tp_parse(v)) < 0) usage();
    } else if (!strcmp(a, "--tls-version")) {
      if (!strcmp(v, "1.2")) o_tls_version = 12;
      else if (!strcmp(v, "1.3")) o_tls_version = 13;
      else usage();
    } else if (!strcmp(a, "--ws-path")) o_ws_path = v;
    else usage();
  }
  if (o_port <= 0 || o_qos < 0 || o_qos > 2 || o_window < 1 || o_window > 60000 || o_payload < 0) usage();
  if (o_mode == MODE_LATENCY && (o_payload < 8 || o_rate <= 0)) usage();
  if (o_mode == MODE_IDLE) { o_pubs = 0; o_subs = 0; if (o_conns <= 0) usage(); }
  else if (o_mode == MODE_CONNECT) { o_pubs = 0; o_subs = 0; o_conns = o_concurrency; if (o_conns <= 0) usage(); }
  else o_conns = 0;
  if (o_chunk <= 0) {
    o_chunk = o_pubs > 0 ? (1 << 20) / o_pubs : 65536;
    if (o_chunk > 65536) o_chunk = 65536;
    if (o_chunk < 4096) o_chunk = 4096;
  }

  memset(&g_addr, 0, sizeof g_addr);
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons(o_port);
  if (inet_pton(AF_INET, o_host, &g_addr.sin_addr) != 1) fail("bad --host %s", o_host);
  const char *tp_why = tp_setup(o_transport, o_tls_version, o_host, o_ws_path);
  if (tp_why) fail("%s", tp_why);
  g_sub_addr = g_addr;
  g_sub_addr.sin_port = htons(o_sub_port);

  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) fail("epoll_create1: %s", strerror(errno));

  /* Layout: subscribers first, then publishers, then idle connections. */
  g_nconns = o_subs + o_pubs + o_conns;
  g_conns = calloc(g_nconns, sizeof *g_conns);
  if (!g_conns) fail("out of memory");
  int pid = g_pid = getpid() % 100000;
  for (int i = 0; i < g_nconns; i++) {
    conn_t *c = &g_conns[i];
    c->fd = -1;
    if (i < o_subs) {
      c->role = ROLE_SUB;
      c->idx = i;
      char f[256];
      snprintf(f, sizeof f, o_sub_filter, i);
      c->filter = strdup(f);
      buf_reserve(&c->in, 256 * 1024);
      snprintf(c->client_id, sizeof c->client_id, "lg%ds%d", pid, i);
    } else if (i < o_subs + o_pubs) {
      c->role = ROLE_PUB;
      c->idx = i - o_subs;
      build_frame(c);
      if (o_qos) {
        c->idmap = calloc(65536 / 8, 1);
        if (!c->idmap) fail("out of memory");
        c->next_id = 1;
      }
      buf_reserve(&c->in, 16 * 1024);
      snprintf(c->client_id, sizeof c->client_id, "lg%dp%d", pid, c->idx);
    } else {
      c->role = o_mode == MODE_CONNECT ? ROLE_CONN : ROLE_IDLE;
      c->idx = i - o_subs - o_pubs;
      buf_reserve(&c->in, 64);
      snprintf(c->client_id, sizeof c->client_id, "lg%di%d", pid, c->idx);
    }
  }

  double cap_floor = 0;
  if (o_max_backlog && o_pubs > 0) {
    conn_t *p0 = &g_conns[o_subs];
    double batch = (double)(o_chunk / p0->flen) * o_expect;
    cap_floor = 2.0 * o_pubs * batch;
    if (cap_floor < o_max_backlog) cap_floor = o_max_backlog;
  }
  g_cap = g_cap_max = cap_floor;
  double t_cap = 0;
  uint64_t cap_recv = 0;

  long rss_before = o_broker_pid ? read_rss_kib(o_broker_pid) : -1;
  double t0 = now_s();
  double t_send = 0, t_meas = 0, t_end = 0, t_drain = 0, t_last_progress = 0, t_settle = 0;
  double cpu_meas = 0, cpu_end = 0, bcpu_meas = 0, bcpu_end = 0;
  uint64_t sent_meas = 0, recv_meas = 0, sent_end = 0, recv_end = 0, last_recv = 0, last_acked = 0;
  uint64_t connacks_meas = 0, connacks_end = 0, errors_meas = 0, errors_end = 0;
  long long overflows_meas = 0, overflows_end = 0, drops_meas = 0, drops_end = 0;
  double setup_s = 0;
  long rss_after = -1, rss_peak = -1;
  if (o_mode == MODE_CONNECT) { /* no setup: the warm-up starts with the first connect */
    g_phase = PH_SENDING;
    t_send = t0;
  }

  struct epoll_event evs[512];
  while (g_phase != PH_DONE) {
    while (g_started < g_nconns && g_pending_connects < o_concurrency) start_connect(&g_conns[g_started]);

    int timeout = g_phase == PH_SETUP ? 5 : o_busy_poll && g_phase == PH_SENDING ? 0 : 2;
    g_io_bytes = 0;
    int n = epoll_wait(g_ep, evs, 512, timeout);
    if (n < 0 && errno != EINTR) fail("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) on_tick();
      else handle_event(evs[i].data.ptr, evs[i].events);
    }

    double t = now_s();
    /* Publishers paused on the backlog gate: resume them once deliveries catch up;
       if nothing at all arrives for --stall seconds, the broker dropped the rest. */
    if (o_max_backlog && g_phase == PH_SENDING && t - t_cap >= 0.1) {
      double rate = t_cap > 0 ? (g_recv - cap_recv) / (t - t_cap) : 0;
      g_cap = rate * o_backlog_ms / 1000.0;
      if (g_cap < cap_floor) g_cap = cap_floor;
      if (g_cap > g_cap_max) g_cap_max = g_cap;
      t_cap = t;
      cap_recv = g_recv;
    }
    if (o_max_backlog && g_phase == PH_SENDING) {
      static int was_gated;
      static double gate_t;
      static uint64_t gate_recv;
      int g = gated();
      if (g && (!was_gated || g_recv != gate_recv)) { gate_t = t; gate_recv = g_recv; }
      if (g && t - gate_t >= o_stall) {
        g_dropped = g_sent * (uint64_t)o_expect - g_recv;
        g_stalls++;
        g = 0;
      }
      /* QoS 0 publishers keep EPOLLOUT and just skip writing while gated;
         QoS 1 and 2 publishers only refill on acks, so kick them here. */
      if (was_gated && !g && o_qos)
        for (int k = o_subs; k < o_subs + o_pubs; k++) {
          pump_window(&g_conns[k]);
          update_events(&g_conns[k]);
        }
      was_gated = g;
    }
    /* Few bytes moved this turn: nap so that the next reads and writes are larger
       (fewer syscalls per message). Not in latency mode, where it would add delay. */
    if (o_mode == MODE_THROUGHPUT && o_coalesce_us > 0 && g_phase != PH_SETUP && g_io_bytes < 32768) {
      struct timespec ts = { 0, o_coalesce_us * 1000L };
      nanosleep(&ts, NULL);
      t = now_s();
    }
    switch (g_phase) {
    case PH_SETUP:
      if (t - t0 > o_setup_timeout) fail("setup timed out: %d of %d connections ready", g_ready, g_nconns);
      if (g_ready == g_nconns) {
        setup_s = t - t0;
        if (o_mode == MODE_IDLE) {
          g_phase = PH_SETTLE;
          t_settle = t;
          break;
        }
        g_phase = PH_SENDING;
        t_send = t;
        if (o_mode == MODE_LATENCY) {
          g_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
          if (g_tfd < 0) fail("timerfd_create: %s", strerror(errno));
          long period = (long)(1e9 / o_rate);
          if (period < 1000) period = 1000;
          struct itimerspec its = { .it_interval = { period / 1000000000, period % 1000000000 },
                                    .it_value = { period / 1000000000, period % 1000000000 } };
          timerfd_settime(g_tfd, 0, &its, NULL);
          struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
          epoll_ctl(g_ep, EPOLL_CTL_ADD, g_tfd, &e);
        }
        for (int k = 0; k < g_nconns; k++) {
          conn_t *c = &g_conns[k];
          pump_window(c);
          update_events(c);
        }
      }
      break;
    case PH_SENDING:
      if (!g_measuring && t - t_send >= o_warmup) {
        g_measuring = 1;
        t_meas = t;
        sent_meas = g_sent;
        recv_meas = g_recv;
        connacks_meas = g_connacks;
        errors_meas = g_conn_errors;
        overflows_meas = read_tcpext("ListenOverflows");
        drops_meas = read_tcpext("ListenDrops");
        cpu_meas = self_cpu_s();
        if (o_broker_pid) bcpu_meas = read_proc_cpu_s(o_broker_pid);
      } else if (g_measuring && t - t_meas >= o_duration) {
        g_measuring = 2;
        t_end = t;
        sent_end = g_sent;
        recv_end = g_recv;
        connacks_end = g_connacks;
        errors_end = g_conn_errors;
        overflows_end = read_tcpext("ListenOverflows");
        drops_end = read_tcpext("ListenDrops");
        cpu_end = self_cpu_s();
        if (o_broker_pid) bcpu_end = read_proc_cpu_s(o_broker_pid);
        if (o_broker_pid) rss_peak = read_rss_kib(o_broker_pid);
        if (o_mode == MODE_CONNECT) {
          g_phase = PH_DONE;
          break;
        }
        g_phase = PH_DRAIN;
        t_drain = t_last_progress = t;
        last_recv = g_recv;
        last_acked = g_acked;
        for (int k = 0; k < g_nconns; k++) update_events(&g_conns[k]);
      }
      break;
    case PH_DRAIN: {
      if (g_recv != last_recv || g_acked != last_acked) {
        last_recv = g_recv;
        last_acked = g_acked;
        t_last_progress = t;
      }
      uint64_t expected = g_sent * (uint64_t)o_expect;
      int all_in = g_recv >= expected && (o_qos == 0 || g_acked >= g_sent);
      if (all_in || t - t_last_progress >= o_drain_quiet || t - t_drain >= o_drain_max) g_phase = PH_DONE;
      break;
    }
    case PH_SETTLE:
      if (t - t_settle >= o_settle) {
        if (o_broker_pid) rss_after = read_rss_kib(o_broker_pid);
        g_phase = PH_DONE;
      }
      break;
    }
  }

  /* ---- report ---- */
  static const char *mode_name[] = { "throughput", "latency", "idle", "connect" };
  printf("{\"ok\":true,\"mode\":\"%s\",\"qos\":%d,\"pubs\":%d,\"subs\":%d,\"conns\":%d,\"payload\":%d,\"setup_s\":%.3f",
         mode_name[o_mode], o_qos, o_pubs, o_subs, g_nconns, o_payload, setup_s);
  printf(",\"transport\":\"%s\"", tp_name(o_transport));
  if (g_negotiated[0]) {
    printf(",\"tls\":\"");
    json_escape_print(g_negotiated);
    printf("\"");
  }
  double dur = t_end - t_meas;
  double gen_cpu = dur > 0 ? 100.0 * (cpu_end - cpu_meas) / dur : -1;
  double broker_cpu = (o_broker_pid && bcpu_meas >= 0 && bcpu_end >= 0 && dur > 0) ? 100.0 * (bcpu_end - bcpu_meas) / dur : -1;
  if (o_mode == MODE_IDLE) {
    printf(",\"rss_before_kib\":%ld,\"rss_after_kib\":%ld", rss_before, rss_after);
  } else if (o_mode == MODE_CONNECT) {
    uint64_t acks = connacks_end - connacks_meas;
    qsort(g_lat, g_lat_n, sizeof *g_lat, cmp_u64);
    printf(",\"duration_s\":%.3f,\"connacks\":%llu,\"conn_rate\":%.1f,\"conn_errors\":%llu,\"total_connacks\":%llu,\"total_started\":%d",
           dur, (unsigned long long)acks, dur > 0 ? acks / dur : 0, (unsigned long long)(errors_end - errors_meas),
           (unsigned long long)g_connacks, g_started);
    printf(",\"listen_overflows\":%lld,\"listen_drops\":%lld", overflows_meas < 0 ? -1 : overflows_end - overflows_meas,
           drops_meas < 0 ? -1 : drops_end - drops_meas);
    printf(",\"connack_p50_us\":%.1f,\"connack_p90_us\":%.1f,\"connack_p99_us\":%.1f,\"connack_max_us\":%.1f", pct(0.50),
           pct(0.90), pct(0.99), pct(1.0));
    printf(",\"gen_cpu_pct\":%.1f,\"broker_cpu_pct\":%.1f,\"rss_before_kib\":%ld,\"rss_peak_kib\":%ld", gen_cpu, broker_cpu,
           rss_before, rss_peak);
  } else {
    uint64_t sent = sent_end - sent_meas, recv = recv_end - recv_meas;
    uint64_t expected = g_sent * (uint64_t)o_expect;
    printf(",\"window\":%d,\"rate_target\":%.0f,\"duration_s\":%.3f,\"sent\":%llu,\"recv\":%llu,\"sent_rate\":%.1f,\"recv_rate\":%.1f",
           o_window, o_mode == MODE_LATENCY ? o_rate : 0, dur, (unsigned long long)sent, (unsigned long long)recv,
           dur > 0 ? sent / dur : 0, dur > 0 ? recv / dur : 0);
    printf(",\"total_sent\":%llu,\"total_recv\":%llu,\"expected\":%llu,\"lost\":%lld,\"loss_pct\":%.4f,\"acked\":%llu",
           (unsigned long long)g_sent, (unsigned long long)g_recv, (unsigned long long)expected,
           (long long)expected - (long long)g_recv, expected ? 100.0 * ((double)expected - g_recv) / expected : 0,
           (unsigned long long)g_acked);
    printf(",\"backlog_floor\":%.0f,\"backlog_cap_max\":%.0f,\"chunk\":%d,\"stalls\":%llu", cap_floor, g_cap_max, o_chunk,
           (unsigned long long)g_stalls);
    printf(",\"gen_cpu_pct\":%.1f,\"broker_cpu_pct\":%.1f,\"rss_before_kib\":%ld,\"rss_peak_kib\":%ld", gen_cpu, broker_cpu,
           rss_before, rss_peak);
    if (o_mode == MODE_LATENCY) {
      qsort(g_lat, g_lat_n, sizeof *g_lat, cmp_u64);
      printf(",\"lat_samples\":%zu,\"lat_p50_us\":%.1f,\"lat_p90_us\":%.1f,\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,\"lat_max_us\":%.1f",
             g_lat_n, pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1.0));
    }
  }
  printf("}\n");
  fflush(stdout);
  for (int i = 0; i < g_nconns; i++)
    if (g_conns[i].fd >= 0 && g_conns[i].state != ST_CLOSED) conn_close(&g_conns[i]);
  return 0;
}
