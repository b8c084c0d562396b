/*
 * transport.c: tcp, tls, ws and wss under loadgen (see transport.h for the interface).
 *
 * TLS: OpenSSL on the non-blocking socket (SSL_set_fd), one SSL_CTX for the whole run and
 * one SSL per connection. TLS 1.3 by default (--tls-version 1.2: TLS 1.2), pinned as both
 * the lowest and the highest version; default ciphers and groups, so the server picks
 * (X25519 and AES-GCM on a usual OpenSSL or Node). No certificate verification: the bench
 * talks to its own brokers on loopback with a throwaway self-signed certificate. No session
 * resumption either: the client session cache is off and no session is ever offered again,
 * so every connection (each one of connect mode too) pays a full handshake. The server's
 * TLS 1.3 session tickets arrive and are ignored, as a first-time client would. Partial
 * writes and moving write buffers are on, so SSL_write behaves like write(): after
 * WANT_WRITE (or WANT_READ) the caller retries with the same bytes, wherever they now are.
 * Read-ahead is on (fewer read calls); tp_buffered() reports what OpenSSL holds that the
 * socket no longer shows to epoll.
 *
 * WebSocket (RFC 6455), client side: after TCP (and TLS, for wss) the upgrade request
 * GET <path> with `Sec-WebSocket-Protocol: mqtt`; the answer must be 101 with the right
 * Sec-WebSocket-Accept. MQTT bytes then go out as masked binary frames, one frame per
 * tp_write (up to 64 KiB: a write batch of many MQTT packets, as a client that coalesces
 * its writes sends them). Frames are built in t->raw_out and pushed from there, so a
 * frame is never split by a short write and a TLS retry sees the same bytes. Frames in:
 * binary and continuation payloads are MQTT bytes, unframed in place in the caller's
 * buffer; ping is answered with pong, pong is ignored, close ends the stream (tp_read
 * returns 0). Text frames, masked server frames, reserved bits and unknown opcodes fail
 * the connection. No extensions (no permessage-deflate) are offered.
 */
#define _GNU_SOURCE
#include "transport.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define WS_FRAME_MAX 65536 /* largest frame we send (payload bytes) */
#define HTTP_MAX 4096      /* largest upgrade response we accept */
static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum { HS_TLS, HS_WS_REQUEST, HS_WS_SEND, HS_WS_RESPONSE, HS_DONE, HS_FAILED };

static int g_kind = TP_TCP;
static SSL_CTX *g_ctx;
static const char *g_host = "127.0.0.1";
static const char *g_path = "/mqtt";
static uint64_t g_rng;

static int secure(void) { return g_kind == TP_TLS || g_kind == TP_WSS; }
static int websocket(void) { return g_kind == TP_WS || g_kind == TP_WSS; }

/* xorshift64*: WebSocket keys and masks (unpredictable enough for a benchmark client) */
static uint64_t rng(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1Dull;
}

int tp_parse(const char *name) {
  static const char *names[] = { "tcp", "tls", "ws", "wss" };
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, names[i])) return i;
  return -1;
}

const char *tp_name(int kind) {
  static const char *names[] = { "tcp", "tls", "ws", "wss" };
  return kind >= 0 && kind < 4 ? names[kind] : "?";
}

const char *tp_error(const tp_t *t) { return t->err[0] ? t->err : "unknown transport error"; }

static int set_err(tp_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->err, sizeof t->err, fmt, ap);
  va_end(ap);
  errno = EPROTO;
  return -1;
}

const char *tp_setup(int kind, int tls_version, const char *host, const char *ws_path) {
  static char why[256];
  g_kind = kind;
  if (host) g_host = host;
  if (ws_path) g_path = ws_path;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g_rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ull;
  if (!secure()) return NULL;
  int v = tls_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  g_ctx = SSL_CTX_new(TLS_client_method());
  if (!g_ctx || !SSL_CTX_set_min_proto_version(g_ctx, v) || !SSL_CTX_set_max_proto_version(g_ctx, v)) {
    snprintf(why, sizeof why, "SSL_CTX setup: %s", ERR_error_string(ERR_get_error(), NULL));
    return why;
  }
  SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF); /* no resumption: a full handshake each time */
  SSL_CTX_set_options(g_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);  /* a peer's close without close_notify is EOF */
  SSL_CTX_set_mode(g_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(g_ctx, 1);
  return NULL;
}

/* ---- raw byte pipe: the socket, or TLS over it ---- */

/* A plain read()/write() result: EAGAIN/EINTR become EAGAIN with the event to wait for
   (`want`), other errors are recorded; errno is kept for the caller. */
static ssize_t fd_outcome(tp_t *t, ssize_t n, uint32_t want) {
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      t->want = want;
      errno = EAGAIN;
    } else {
      int e = errno;
      set_err(t, "%s", strerror(e));
      errno = e;
    }
  }
  return n;
}

/* The outcome r (<= 0) of an SSL call: -1 + EAGAIN (t->want says which way), 0 for EOF,
   -1 + EPROTO/errno for a failure (t->err). Leaves OpenSSL's error queue empty. */
static ssize_t ssl_outcome(tp_t *t, int r, const char *what) {
  int e = SSL_get_error(t->ssl, r), saved = errno;
  ssize_t out = -1;
  switch (e) {
  case SSL_ERROR_WANT_READ:
    t->want = EPOLLIN;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_WANT_WRITE:
    t->want = EPOLLOUT;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN:
    out = 0;
    break;
  case SSL_ERROR_SYSCALL:
    if (saved == 0) out = 0; /* EOF */
    else set_err(t, "%s: %s", what, strerror(saved));
    break;
  default: {
    unsigned long code = ERR_get_error();
    char buf[160];
    ERR_error_string_n(code, buf, sizeof buf);
    set_err(t, "%s: %s", what, code ? buf : "SSL error");
  }
  }
  ERR_clear_error();
  if (out < 0) errno = EPROTO;
  return out;
}

static ssize_t raw_read(tp_t *t, uint8_t *buf, size_t len) {
  if (len > INT_MAX) len = INT_MAX;
  if (secure()) {
    int r = SSL_read(t->ssl, buf, (int)len);
    if (r > 0) {
      t->rd_wants_out = 0;
      return r;
    }
    ssize_t x = ssl_outcome(t, r, "TLS read");
    t->rd_wants_out = x < 0 && errno == EAGAIN && t->want == EPOLLOUT;
    return x;
  }
  return fd_outcome(t, read(t->fd, buf, len), EPOLLIN);
}

/* > 0 bytes written, -1 + EAGAIN, or -1 failed (a TLS peer that closed is a failure here). */
static ssize_t raw_write(tp_t *t, const uint8_t *buf, size_t len) {
  if (len > INT_MAX) len = INT_MAX;
  if (secure()) {
    int r = SSL_write(t->ssl, buf, (int)len);
    if (r > 0) return r;
    ssize_t x = ssl_outcome(t, r, "TLS write");
    if (x == 0) return set_err(t, "TLS write: closed by the peer");
    return x;
  }
  return fd_outcome(t, write(t->fd, buf, len), EPOLLOUT);
}

static void buf_room(tp_buf_t *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->len + extra) cap *= 2;
  uint8_t *p = realloc(b->buf, cap);
  if (!p) {
    fprintf(stderr, "loadgen: out of memory (%s)\n", tp_name(g_kind));
    exit(1);
  }
  b->buf = p;
  b->cap = cap;
}

/* ---- WebSocket framing ---- */

/* Append one masked frame (FIN set) of opcode op with payload p[0..n) to raw_out. */
static void ws_frame(tp_t *t, int op, const uint8_t *p, size_t n) {
  tp_buf_t *b = &t->raw_out;
  buf_room(b, n + 14);
  uint8_t *h = b->buf + b->len;
  size_t i = 0;
  h[i++] = 0x80 | op;
  if (n < 126) h[i++] = 0x80 | n;
  else if (n < 65536) {
    h[i++] = 0x80 | 126;
    h[i++] = n >> 8;
    h[i++] = n & 0xff;
  } else {
    h[i++] = 0x80 | 127;
    for (int k = 7; k >= 0; k--) h[i++] = (uint8_t)((uint64_t)n >> (8 * k));
  }
  uint32_t key = (uint32_t)rng();
  uint8_t m[8];
  memcpy(m, &key, 4);
  memcpy(m + 4, &key, 4);
  memcpy(h + i, m, 4);
  i += 4;
  uint8_t *d = h + i;
  memcpy(d, p, n);
  uint64_t m8;
  memcpy(&m8, m, 8);
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t x;
    memcpy(&x, d + k, 8);
    x ^= m8;
    memcpy(d + k, &x, 8);
  }
  for (; k < n; k++) d[k] ^= m[k & 3];
  b->len += i + n;
}

int tp_flush(tp_t *t) {
  tp_buf_t *b = &t->raw_out;
  while (b->off < b->len) {
    ssize_t n = raw_write(t, b->buf + b->off, b->len - b->off);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    b->off += n;
  }
  b->off = b->len = 0;
  return 1;
}

/* A complete control frame (t->ctl): ping -> pong, close -> end of stream. */
static void ws_control(tp_t *t) {
  if (t->ws_op == 9) ws_frame(t, 10, t->ctl, t->ctl_len);
  else if (t->ws_op == 8) t->closed = 1;
}

/* Strip the framing from p[0..n) (bytes as read from the socket) in place: returns how
   many MQTT bytes are now at p, or -1 on a protocol error. */
static ssize_t ws_unframe(tp_t *t, uint8_t *p, size_t n) {
  size_t i = 0, w = 0;
  while (i < n && !t->closed) {
    if (t->ws_left == 0) { /* a frame header, possibly split over reads */
      t->hdr[t->hdr_len++] = p[i++];
      if (t->hdr_len < 2) continue;
      uint8_t b0 = t->hdr[0], b1 = t->hdr[1];
      if (t->hdr_len == 2) {
        if (b1 & 0x80) return set_err(t, "WebSocket: masked frame from the server");
        if (b0 & 0x70) return set_err(t, "WebSocket: reserved bits set (no extension was negotiated)");
      }
      int l7 = b1 & 127;
      int need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
      if (t->hdr_len < need) continue;
      uint64_t len = l7;
      if (l7 == 126) len = ((uint64_t)t->hdr[2] << 8) | t->hdr[3];
      if (l7 == 127) {
        len = 0;
        for (int k = 2; k < 10; k++) len = (len << 8) | t->hdr[k];
      }
      int op = b0 & 15;
      t->hdr_len = 0;
      if (op >= 8) {
        if (op > 10) return set_err(t, "WebSocket: unknown control opcode %d", op);
        if (len > 125 || !(b0 & 0x80)) return set_err(t, "WebSocket: bad control frame (opcode %d)", op);
        t->ctl_len = 0;
      } else if (op == 1) {
        return set_err(t, "WebSocket: text frame from the server (MQTT needs binary frames)");
      } else if (op != 0 && op != 2) {
        return set_err(t, "WebSocket: unknown opcode %d", op);
      }
      t->ws_op = op;
      t->ws_left = len;
      if (len == 0 && op >= 8) ws_control(t);
      continue;
    }
    size_t k = n - i;
    if (k > t->ws_left) k = (size_t)t->ws_left;
    if (t->ws_op >= 8) {
      memcpy(t->ctl + t->ctl_len, p + i, k);
      t->ctl_len += (int)k;
    } else {
      if (w != i) memmove(p + w, p + i, k);
      w += k;
    }
    i += k;
    t->ws_left -= k;
    if (t->ws_left == 0 && t->ws_op >= 8) ws_control(t);
  }
  return (ssize_t)w;
}

static void b64(const uint8_t *in, int n, char *out) { EVP_EncodeBlock((unsigned char *)out, in, n); }

static void ws_request(tp_t *t) {
  uint8_t raw[16];
  uint64_t a = rng(), b = rng();
  memcpy(raw, &a, 8);
  memcpy(raw + 8, &b, 8);
  char key[32];
  b64(raw, 16, key);
  char cat[64 + sizeof WS_GUID];
  snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
  uint8_t sha[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)cat, strlen(cat), sha);
  b64(sha, SHA_DIGEST_LENGTH, t->accept);
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
                   g_path, g_host, t->port, key);
  if (n >= (int)sizeof req) n = sizeof req - 1;
  buf_room(&t->raw_out, n);
  memcpy(t->raw_out.buf + t->raw_out.len, req, n);
  t->raw_out.len += n;
}

/* The upgrade response in t->http[0..hl): 101 and the expected Sec-WebSocket-Accept. */
static int ws_check_response(tp_t *t, size_t hl) {
  char *h = t->http;
  h[hl - 2] = 0; /* cut at the blank line */
  char *eol = strstr(h, "\r\n");
  if (eol) *eol = 0;
  if (strncmp(h, "HTTP/1.1 101", 12)) return set_err(t, "WebSocket upgrade refused: %.120s", h);
  int accepted = 0;
  for (char *line = eol ? eol + 2 : NULL; line && *line;) {
    char *next = strstr(line, "\r\n");
    if (next) *next = 0;
    if (!strncasecmp(line, "Sec-WebSocket-Accept:", 21)) {
      char *v = line + 21;
      while (*v == ' ' || *v == '\t') v++;
      char *e = v + strlen(v);
      while (e > v && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
      if (strcmp(v, t->accept)) return set_err(t, "WebSocket upgrade: wrong Sec-WebSocket-Accept %.40s", v);
      accepted = 1;
    }
    line = next ? next + 2 : NULL;
  }
  if (!accepted) return set_err(t, "WebSocket upgrade: no Sec-WebSocket-Accept");
  return 0;
}

/* ---- the interface ---- */

void tp_open(tp_t *t, int fd, int port) {
  t->fd = fd;
  t->port = port;
  t->want = EPOLLOUT;
  t->rd_wants_out = 0;
  t->raw_out.len = t->raw_out.off = 0;
  t->pre.len = t->pre.off = 0;
  t->http_len = 0;
  t->hdr_len = 0;
  t->ws_left = 0;
  t->ws_op = 0;
  t->closed = 0;
  t->err[0] = 0;
  t->hs = HS_DONE;
  if (secure()) {
    t->ssl = SSL_new(g_ctx);
    if (!t->ssl || !SSL_set_fd(t->ssl, fd)) {
      set_err(t, "SSL_new: %s", ERR_error_string(ERR_get_error(), NULL));
      ERR_clear_error();
      t->hs = HS_FAILED;
      return;
    }
    SSL_set_connect_state(t->ssl);
    t->hs = HS_TLS;
  } else if (websocket()) {
    t->hs = HS_WS_REQUEST;
  }
}

int tp_handshake(tp_t *t) {
  for (;;) {
    switch (t->hs) {
    case HS_TLS: {
      int r = SSL_connect(t->ssl);
      if (r == 1) {
        t->hs = websocket() ? HS_WS_REQUEST : HS_DONE;
        break;
      }
      ssize_t x = ssl_outcome(t, r, "TLS handshake");
      if (x < 0 && errno == EAGAIN) return 0;
      if (x == 0) set_err(t, "TLS handshake: closed by the server");
      t->hs = HS_FAILED;
      return -1;
    }
    case HS_WS_REQUEST:
      ws_request(t);
      t->hs = HS_WS_SEND;
      break;
    case HS_WS_SEND: {
      int r = tp_flush(t);
      if (r == 0) return 0;
      if (r < 0) {
        t->hs = HS_FAILED;
        return -1;
      }
      t->hs = HS_WS_RESPONSE;
      t->http_len = 0;
      break;
    }
    case HS_WS_RESPONSE: {
      if (!t->http && !(t->http = malloc(HTTP_MAX + 1))) return set_err(t, "out of memory");
      ssize_t n = raw_read(t, (uint8_t *)t->http + t->http_len, HTTP_MAX - t->http_len);
      if (n < 0 && errno == EAGAIN) return 0;
      if (n <= 0) {
        if (n == 0) set_err(t, "closed by the server during the WebSocket upgrade");
        t->hs = HS_FAILED;
        return -1;
      }
      t->http_len += n;
      t->http[t->http_len] = 0;
      char *end = memmem(t->http, t->http_len, "\r\n\r\n", 4);
      if (!end) {
        if (t->http_len == HTTP_MAX) {
          t->hs = HS_FAILED;
          return set_err(t, "WebSocket upgrade: response headers over %d bytes", HTTP_MAX);
        }
        break;
      }
      size_t hl = (size_t)(end + 4 - t->http);
      if (t->http_len > hl) { /* frames right behind the response: keep them for tp_read */
        buf_room(&t->pre, t->http_len - hl);
        memcpy(t->pre.buf, t->http + hl, t->http_len - hl);
        t->pre.len = t->http_len - hl;
        t->pre.off = 0;
      }
      if (ws_check_response(t, hl) < 0) {
        t->hs = HS_FAILED;
        return -1;
      }
      free(t->http);
      t->http = NULL;
      t->hs = HS_DONE;
      break;
    }
    case HS_DONE:
      return 1;
    default:
      errno = EPROTO;
      return -1;
    }
  }
}

ssize_t tp_read(tp_t *t, uint8_t *buf, size_t len, int *more) {
  *more = 0;
  if (!websocket()) {
    ssize_t n = raw_read(t, buf, len);
    /* plain TCP: a short read emptied the socket; TLS cannot tell, so read until EAGAIN */
    if (n > 0) *more = secure() || (size_t)n == len;
    return n;
  }
  for (;;) {
    if (t->closed) return 0;
    size_t n;
    int full;
    if (t->pre.off < t->pre.len) {
      n = t->pre.len - t->pre.off;
      if (n > len) n = len;
      memcpy(buf, t->pre.buf + t->pre.off, n);
      t->pre.off += n;
      full = 1;
    } else {
      ssize_t r = raw_read(t, buf, len);
      if (r <= 0) return r;
      n = (size_t)r;
      full = secure() || n == len;
    }
    ssize_t w = ws_unframe(t, buf, n);
    if (w < 0) return -1;
    if (w > 0) {
      *more = full || tp_buffered(t);
      return w;
    }
    /* only frame headers or control frames: read on */
  }
}

ssize_t tp_write(tp_t *t, const uint8_t *buf, size_t len) {
  if (!websocket()) return raw_write(t, buf, len);
  int r = tp_flush(t); /* earlier frames first, and whole */
  if (r < 0) return -1;
  if (r == 0) {
    errno = EAGAIN;
    return -1;
  }
  if (len > WS_FRAME_MAX) len = WS_FRAME_MAX;
  ws_frame(t, 2, buf, len);
  if (tp_flush(t) < 0) return -1;
  return (ssize_t)len; /* taken: what the socket did not take yet waits in raw_out */
}

int tp_out_pending(const tp_t *t) { return t->raw_out.off < t->raw_out.len; }

int tp_buffered(const tp_t *t) {
  if (t->pre.off < t->pre.len) return 1;
  return t->ssl && SSL_has_pending(t->ssl);
}

void tp_close(tp_t *t) {
  if (t->ssl) SSL_free(t->ssl);
  t->ssl = NULL;
  free(t->http);
  t->http = NULL;
}

void tp_describe(const tp_t *t, char *out, size_t n) {
  out[0] = 0;
  if (!t->ssl) return;
  int group = SSL_get_negotiated_group(t->ssl);
  const char *gname = group ? SSL_group_to_name(t->ssl, group) : NULL;
  snprintf(out, n, "%s %s%s%s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl), gname ? " " : "", gname ? gname : "");
}
