/*
 * transport: the byte pipe under loadgen's MQTT logic. One of
 *   tcp   plain TCP (read/write on the socket)
 *   tls   TLS over TCP (OpenSSL, non-blocking; no certificate verification)
 *   ws    WebSocket (RFC 6455) over TCP: HTTP/1.1 Upgrade with the `mqtt` subprotocol,
 *         MQTT bytes in masked binary frames (one frame per write batch)
 *   wss   WebSocket over TLS
 * The caller owns the socket (connect, epoll, close); the transport owns what rides on it.
 * See transport.c for the details.
 */
#ifndef LOADGEN_TRANSPORT_H
#define LOADGEN_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/ssl.h>

enum { TP_TCP, TP_TLS, TP_WS, TP_WSS };

typedef struct {
  uint8_t *buf;
  size_t len, off, cap;
} tp_buf_t;

typedef struct {
  int fd;
  int hs;               /* handshake step (transport.c) */
  uint32_t want;        /* the epoll events the last blocked operation waits for (EPOLLIN or
                           EPOLLOUT: TLS may need to write to read, or read to write) */
  int rd_wants_out;     /* the last TLS read stopped on WANT_WRITE: retry it on EPOLLOUT */
  int port;             /* for the Host header */
  SSL *ssl;             /* tls, wss */
  /* ws, wss */
  tp_buf_t raw_out;     /* framed bytes (and the upgrade request) not yet on the socket */
  tp_buf_t pre;         /* bytes read past the HTTP response, not yet unframed */
  char *http;           /* the upgrade response being read */
  size_t http_len;
  char accept[32];      /* the Sec-WebSocket-Accept we expect */
  uint8_t hdr[14];      /* frame header being collected */
  int hdr_len;
  int ws_op;            /* opcode of the frame whose payload is being read */
  uint64_t ws_left;     /* payload bytes of that frame still to come */
  uint8_t ctl[125];     /* control frame payload (ping, close) */
  int ctl_len;
  int closed;           /* the server sent a close frame */
  char err[200];
} tp_t;

/* "tcp", "tls", "ws", "wss" -> TP_*, or -1. */
int tp_parse(const char *name);
const char *tp_name(int kind);
/* Once, before any connection: the transport kind, TLS version (12 or 13), Host header
   host, WebSocket path. Returns NULL, or what went wrong. */
const char *tp_setup(int kind, int tls_version, const char *host, const char *ws_path);
/* A TCP connection on fd has just been established: start its transport. */
void tp_open(tp_t *t, int fd, int port);
/* Advance the TLS handshake and/or the WebSocket upgrade: 1 done, 0 waiting (for the
   epoll events in t->want), -1 failed (tp_error). tcp: 1 at once. */
int tp_handshake(tp_t *t);
/* MQTT bytes in: > 0 bytes, 0 closed by the peer, -1 with errno EAGAIN (would block) or
   anything else (failed: tp_error). *more: worth calling again before epoll says so. */
ssize_t tp_read(tp_t *t, uint8_t *buf, size_t len, int *more);
/* MQTT bytes out: > 0 bytes taken, -1 as tp_read. After EAGAIN, call again with the same
   bytes (at the same or another address, and at least as many): OpenSSL's retry rule. */
ssize_t tp_write(tp_t *t, const uint8_t *buf, size_t len);
/* Push the transport's own pending bytes (ws frames, pongs): 1 none left, 0 would block, -1 failed. */
int tp_flush(tp_t *t);
/* The transport has bytes of its own to write (wants EPOLLOUT). */
int tp_out_pending(const tp_t *t);
/* Bytes already taken off the socket but not yet returned by tp_read (epoll will not tell). */
int tp_buffered(const tp_t *t);
/* Free the per-connection state (SSL, buffers are kept for reuse); does not close fd. */
void tp_close(tp_t *t);
const char *tp_error(const tp_t *t);
/* What was negotiated, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519"; "" for tcp/ws. */
void tp_describe(const tp_t *t, char *out, size_t n);

#endif
