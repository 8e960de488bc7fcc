/*
 * test_scuttle.c: tests of the scuttle C API, in plain C with a small runner.
 *
 * Every call of scuttle.h and each of its error paths is exercised here, except
 * SCUTTLE_STATUS_PANIC, which C code cannot provoke (a C callback cannot panic; the Rust unit
 * tests of the crate cover it), and SCUTTLE_STATUS_ENCODE_ERROR, which only a bug could cause.
 * Run by scripts/test-c.sh, normally and under valgrind. The last line is "N passed, M
 * failed"; the exit status is 0 only when M is 0.
 */
/* mkdtemp, rmdir */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scuttle.h"

#include "expect.h"

/* ------------------------------------------------------------------ helpers */

/* A fixed clock value for writes, so the tests never depend on the system clock. */
#define NOW 1700000000000ull

static ScuttleConfig default_config(void) {
  ScuttleConfig c;
  if (scuttle_config_default(&c) != SCUTTLE_OK) {
    abort();
  }
  return c;
}

static ScuttleGossip *node_with(const char *id, const ScuttleConfig *c) {
  ScuttleGossip *g = NULL;
  if (scuttle_gossip_new(S(id), c, &g) != SCUTTLE_OK || g == NULL) {
    fprintf(stderr, "scuttle_gossip_new(%s): %s\n", id, scuttle_last_error());
    abort();
  }
  return g;
}

static ScuttleGossip *node(const char *id) {
  ScuttleConfig c = default_config();
  return node_with(id, &c);
}

static ScuttleStatus set(ScuttleGossip *g, const char *key, const char *value) {
  return scuttle_gossip_set(g, NOW, S(key), S(value), NULL);
}

/* 1 if `key` holds exactly `value`. */
static int has(ScuttleGossip *g, const char *key, const char *value) {
  ScuttleEntry e;
  int ok = scuttle_gossip_get(g, S(key), &e) == SCUTTLE_OK && e.value.len == strlen(value) &&
           (e.value.len == 0 || memcmp(e.value.ptr, value, e.value.len) == 0);
  scuttle_entry_free(&e);
  return ok;
}

static size_t len_of(ScuttleGossip *g) {
  size_t n = 0;
  EXPECT_STATUS(scuttle_gossip_len(g, &n), SCUTTLE_OK);
  return n;
}

static uint64_t version_of(ScuttleGossip *g) {
  uint64_t v = 0;
  EXPECT_STATUS(scuttle_gossip_version(g, &v), SCUTTLE_OK);
  return v;
}

/* One whole exchange started by `a` with `b`: a's Syn to b, b's reply to a, a's reply to b,
 * until a call gives no reply. Returns the number of frames (2 or 3). */
static size_t exchange(ScuttleGossip *a, ScuttleGossip *b) {
  ScuttleGossip *to[2] = {b, a};
  ScuttleBytes frame, reply;
  size_t frames = 1;
  EXPECT_STATUS(scuttle_gossip_start_exchange(a, &frame), SCUTTLE_OK);
  for (;;) {
    EXPECT_STATUS(
        scuttle_gossip_handle_frame(to[(frames + 1) % 2], NOW, frame.ptr, frame.len, &reply),
        SCUTTLE_OK);
    scuttle_bytes_free(&frame);
    if (reply.ptr == NULL) {
      EXPECT(reply.len == 0);
      return frames;
    }
    frame = reply;
    frames++;
    if (frames > 3) {
      EXPECT(!"an exchange is at most three frames");
      scuttle_bytes_free(&frame);
      return frames;
    }
  }
}

/* Drops every queued event; returns how many of `kind` there were. */
static size_t drain_events(ScuttleGossip *g, ScuttleEventKind kind) {
  size_t count = 0;
  ScuttleEvent ev;
  while (scuttle_gossip_poll_event(g, &ev) == SCUTTLE_OK) {
    if (ev.kind == kind) {
      count++;
    }
    scuttle_event_free(&ev);
  }
  return count;
}

/* Builds one frame holding an Ack with one update, as a peer would send it:
 *   [2, [0, [source, null, [key (key_len bytes of 1), <version>, 0, []]]]]
 * (a run without `prev`, so the version delta is the version itself), into `out` (at least
 * key_len * 2 + 64 bytes); returns the frame's length. See the CBOR table in
 * crates/scuttle-core/src/wire.rs. */
static size_t ack_frame(uint8_t *out, size_t key_len, const char *source,
                        const uint8_t *version_cbor, size_t version_cbor_len) {
  uint8_t *body = out + SCUTTLE_FRAME_PREFIX_LEN;
  size_t n = 0;
  body[n++] = 0x82; /* message: array of 2 */
  body[n++] = 0x02; /* Ack */
  body[n++] = 0x82; /* news: array of 2 */
  body[n++] = 0x00; /* updates */
  body[n++] = 0x83; /* run: array of 3 */
  body[n++] = (uint8_t)(0x60 | strlen(source)); /* text, < 24 bytes */
  memcpy(body + n, source, strlen(source));
  n += strlen(source);
  body[n++] = 0xf6; /* prev: null */
  body[n++] = 0x84; /* item: array of 4 */
  if (key_len < 24) {
    body[n++] = (uint8_t)(0x80 | key_len);
  } else {
    body[n++] = 0x98; /* array, length in one byte (key_len < 256) */
    body[n++] = (uint8_t)key_len;
  }
  for (size_t i = 0; i < key_len; i++) {
    body[n++] = 1;
  }
  memcpy(body + n, version_cbor, version_cbor_len);
  n += version_cbor_len;
  body[n++] = 0x00; /* timestamp 0 */
  body[n++] = 0x80; /* value: empty array */
  out[0] = (uint8_t)(n >> 24);
  out[1] = (uint8_t)(n >> 16);
  out[2] = (uint8_t)(n >> 8);
  out[3] = (uint8_t)n;
  return n + SCUTTLE_FRAME_PREFIX_LEN;
}

/* ------------------------------------------------------------------ tests */

static void test_config_default(void) {
  ScuttleConfig c;
  memset(&c, 0xab, sizeof c);
  EXPECT_STATUS(scuttle_config_default(&c), SCUTTLE_OK);
  EXPECT(c.version == SCUTTLE_CONFIG_VERSION);
  EXPECT(c.mtu == 10);
  EXPECT(c.max_history == 10);
  EXPECT(c.resolver == SCUTTLE_RESOLVER_LWW);
  EXPECT(c.sorter == SCUTTLE_SORTER_BREADTH);
  EXPECT(c.tombstone_grace_ms == 3600000);
  EXPECT(c.max_message_bytes == 1024 * 1024);
  EXPECT(c.versions == SCUTTLE_VERSIONS_COUNTER);
  EXPECT(c.max_clock_skew_ms == 60000);
  EXPECT(c.catch_up_ms == 0);
  EXPECT(SCUTTLE_PROTOCOL_VERSION == 2);
  EXPECT_STATUS(scuttle_config_default(NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("NULL");
}

static void test_new_and_free(void) {
  ScuttleConfig c = default_config();
  ScuttleGossip *g = NULL;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_OK);
  EXPECT(g != NULL);
  EXPECT(strcmp(scuttle_last_error(), "") == 0);
  scuttle_gossip_free(g);
  /* NULL config: the defaults. */
  g = NULL;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), NULL, &g), SCUTTLE_OK);
  EXPECT(g != NULL);
  scuttle_gossip_free(g);
  /* The smallest message size. */
  c.max_message_bytes = SCUTTLE_MIN_MESSAGE_BYTES;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_OK);
  scuttle_gossip_free(g);
  scuttle_gossip_free(NULL);
  EXPECT(SCUTTLE_OK == 0 && SCUTTLE_STATUS_OK == 0);
}

static void test_new_errors(void) {
  ScuttleConfig good = default_config();
  ScuttleConfig c;
  ScuttleGossip *g = (ScuttleGossip *)&good; /* not NULL: failures must write NULL */

  EXPECT_STATUS(scuttle_gossip_new(S("a"), &good, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_new(NULL, 3, &good, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(g == NULL);
  g = (ScuttleGossip *)&good;
  EXPECT_STATUS(scuttle_gossip_new((const uint8_t *)"", 0, &good, &g),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("empty");
  EXPECT(g == NULL);
  EXPECT_STATUS(scuttle_gossip_new((const uint8_t *)"\xff\xfe", 2, &good, &g),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("UTF-8");
  EXPECT_STATUS(scuttle_gossip_new((const uint8_t *)"a", SIZE_MAX, &good, &g),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("too large");

  c = good;
  c.version = 1;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("scuttle_config_default");
  c = good;
  c.mtu = 0;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("mtu");
  c = good;
  c.max_message_bytes = SCUTTLE_MIN_MESSAGE_BYTES - 1;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("max_message_bytes");
  c = good;
  c.resolver = 42;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("resolver");
  c = good;
  c.sorter = 42;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("sorter");
  c = good;
  c.versions = 42;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("versions");
  EXPECT(g == NULL);
}

static void test_last_error(void) {
  const char *msg;
  EXPECT_STATUS(scuttle_gossip_len(NULL, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  msg = scuttle_last_error();
  EXPECT(msg != NULL && strlen(msg) > 0);
  /* A successful call clears it. */
  ScuttleConfig c;
  EXPECT_STATUS(scuttle_config_default(&c), SCUTTLE_OK);
  EXPECT(scuttle_last_error() != NULL && strcmp(scuttle_last_error(), "") == 0);
}

static void test_now_ms(void) {
  /* 2020-09-13 in milliseconds: any working system clock reads later. */
  EXPECT(scuttle_now_ms() > 1600000000000ull);
}

static void test_set_get_delete(void) {
  ScuttleGossip *g = node("a");
  uint64_t v = 0;
  ScuttleEntry e;

  EXPECT(version_of(g) == 0);
  EXPECT(len_of(g) == 0);
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, S("k"), S("v1"), &v), SCUTTLE_OK);
  EXPECT(v == 1);
  EXPECT_STATUS(scuttle_gossip_set(g, NOW + 5, S("k"), S("v2"), &v), SCUTTLE_OK);
  EXPECT(v == 2);
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, NULL, 0, NULL, 0, &v), SCUTTLE_OK); /* empty key, empty value */
  EXPECT(v == 3);

  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_OK);
  EXPECT(e.value.len == 2 && memcmp(e.value.ptr, "v2", 2) == 0);
  EXPECT(e.value.ptr[e.value.len] == 0); /* NUL after the bytes */
  EXPECT(!e.deleted);
  EXPECT(e.version == 2);
  EXPECT(e.source_id.len == 1 && strcmp((const char *)e.source_id.ptr, "a") == 0);
  EXPECT(e.timestamp_ms == NOW + 5); /* the now_ms given */
  scuttle_entry_free(&e);
  EXPECT(e.value.ptr == NULL && e.source_id.ptr == NULL);
  scuttle_entry_free(&e); /* harmless twice */

  EXPECT_STATUS(scuttle_gossip_get(g, NULL, 0, &e), SCUTTLE_OK);
  EXPECT(e.value.len == 0 && e.value.ptr == NULL);
  scuttle_entry_free(&e);

  EXPECT_STATUS(scuttle_gossip_get(g, S("missing"), &e), SCUTTLE_STATUS_NOT_FOUND);
  EXPECT(e.value.ptr == NULL && e.source_id.ptr == NULL && e.version == 0);
  scuttle_entry_free(&e);

  EXPECT(len_of(g) == 2);
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW + 9, S("k"), &v), SCUTTLE_OK);
  EXPECT(v == 4);
  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_STATUS_DELETED);
  EXPECT(e.deleted && e.version == 4 && e.value.ptr == NULL && e.source_id.len == 1);
  EXPECT(e.timestamp_ms == NOW + 9);
  scuttle_entry_free(&e);
  EXPECT(len_of(g) == 1);
  /* Deleting an unknown key writes a tombstone; version_out may be NULL. */
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW, S("never-set"), NULL), SCUTTLE_OK);
  EXPECT(version_of(g) == 5);
  EXPECT(len_of(g) == 1);
  scuttle_gossip_free(g);
}

static void test_argument_errors(void) {
  ScuttleGossip *g = node("a");
  ScuttleEntry e;
  ScuttleEvent ev;
  ScuttleBytes b1;
  ScuttleKeys *keys = NULL;
  size_t n = 0;
  uint64_t v = 0;
  const uint8_t *k = (const uint8_t *)"k";

  EXPECT_STATUS(scuttle_gossip_set(NULL, NOW, k, 1, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("gossip is NULL");
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, NULL, 1, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("key is NULL");
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, k, 1, NULL, 2, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("value is NULL");
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, k, SIZE_MAX, k, 1, &v),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("too large");
  EXPECT_STATUS(scuttle_gossip_delete(NULL, NOW, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW, NULL, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_get(NULL, k, 1, &e), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_get(g, k, 1, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_get(g, NULL, 1, &e), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_len(NULL, &n), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_len(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_version(NULL, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_version(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_keys(NULL, &keys), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(keys == NULL);
  EXPECT_STATUS(scuttle_gossip_keys(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_id(NULL, &b1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_id(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  b1.ptr = (uint8_t *)k; /* garbage: outputs are zeroed even when the call fails */
  EXPECT_STATUS(scuttle_gossip_start_exchange(NULL, &b1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(b1.ptr == NULL && b1.len == 0);
  EXPECT_STATUS(scuttle_gossip_start_exchange(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("frame_out is NULL");
  b1.ptr = (uint8_t *)k;
  EXPECT_STATUS(scuttle_gossip_handle_frame(NULL, NOW, k, 1, &b1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(b1.ptr == NULL && b1.len == 0);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, NULL, 1, &b1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("frame is NULL");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, k, 1, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("reply_out is NULL");
  EXPECT_STATUS(scuttle_gossip_poll_event(NULL, &ev), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_handle_timeout(NULL, NOW, &n), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_poll_timeout(NULL, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_poll_timeout(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_keys_len(NULL, &n), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_keys_get(NULL, 0, &k, &n), SCUTTLE_STATUS_INVALID_ARGUMENT);
  /* Nothing changed. */
  EXPECT(version_of(g) == 0 && len_of(g) == 0);
  /* Every free function accepts NULL. */
  scuttle_bytes_free(NULL);
  scuttle_entry_free(NULL);
  scuttle_event_free(NULL);
  scuttle_keys_free(NULL);
  scuttle_gossip_free(NULL);
  scuttle_gossip_free(g);
}

static void test_id_and_bytes_free(void) {
  ScuttleGossip *g = node("node-1");
  ScuttleBytes id;
  EXPECT_STATUS(scuttle_gossip_id(g, &id), SCUTTLE_OK);
  EXPECT(id.len == 6 && strcmp((const char *)id.ptr, "node-1") == 0);
  scuttle_bytes_free(&id);
  EXPECT(id.ptr == NULL && id.len == 0);
  scuttle_bytes_free(&id); /* harmless twice */
  scuttle_gossip_free(g);
}

static void test_keys(void) {
  ScuttleGossip *g = node("a");
  ScuttleKeys *keys = NULL;
  const uint8_t *k = NULL;
  size_t n = 99, kl = 99;

  EXPECT_STATUS(scuttle_gossip_keys(g, &keys), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_keys_len(keys, &n), SCUTTLE_OK);
  EXPECT(n == 0);
  EXPECT_STATUS(scuttle_keys_get(keys, 0, &k, &kl), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("out of range");
  scuttle_keys_free(keys);

  EXPECT_STATUS(set(g, "b", "2"), SCUTTLE_OK);
  EXPECT_STATUS(set(g, "a", "1"), SCUTTLE_OK);
  EXPECT_STATUS(set(g, "c", "3"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW, S("c"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_keys(g, &keys), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_keys_len(keys, &n), SCUTTLE_OK);
  EXPECT(n == 2); /* sorted, live keys only */
  EXPECT_STATUS(scuttle_keys_get(keys, 0, &k, &kl), SCUTTLE_OK);
  EXPECT(kl == 1 && k[0] == 'a' && k[1] == 0);
  EXPECT_STATUS(scuttle_keys_get(keys, 1, &k, &kl), SCUTTLE_OK);
  EXPECT(kl == 1 && k[0] == 'b');
  EXPECT_STATUS(scuttle_keys_get(keys, 2, &k, &kl), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_keys_get(keys, 0, NULL, &kl), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_keys_get(keys, 0, &k, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_keys_len(keys, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  /* The list is a snapshot that outlives the node. */
  scuttle_gossip_free(g);
  EXPECT_STATUS(scuttle_keys_get(keys, 1, &k, &kl), SCUTTLE_OK);
  EXPECT(kl == 1 && k[0] == 'b');
  scuttle_keys_free(keys);
}

static void test_poll_empty(void) {
  ScuttleGossip *g = node("a");
  ScuttleEvent ev;
  uint64_t when = 0;
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_STATUS_EMPTY);
  EXPECT(ev.kind == SCUTTLE_EVENT_OTHER && ev.key.ptr == NULL);
  scuttle_event_free(&ev);
  EXPECT_STATUS(scuttle_gossip_poll_timeout(g, &when), SCUTTLE_STATUS_EMPTY);
  EXPECT(when == UINT64_MAX);
  scuttle_gossip_free(g);
}

static void test_events_of_local_writes(void) {
  ScuttleGossip *g = node("a");
  ScuttleEvent ev;
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW, S("k"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_OK);
  EXPECT(ev.kind == SCUTTLE_EVENT_UPDATE);
  EXPECT(ev.key.len == 1 && ev.key.ptr[0] == 'k');
  EXPECT(ev.value.len == 1 && ev.value.ptr[0] == 'v');
  EXPECT(!ev.deleted && ev.version == 1 && ev.timestamp_ms == NOW);
  EXPECT(ev.source_id.len == 1 && ev.source_id.ptr[0] == 'a');
  EXPECT(ev.local); /* a local write */
  scuttle_event_free(&ev);
  EXPECT(ev.key.ptr == NULL && ev.value.ptr == NULL && ev.source_id.ptr == NULL);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_OK);
  EXPECT(ev.kind == SCUTTLE_EVENT_UPDATE && ev.deleted && ev.version == 2 && ev.value.ptr == NULL);
  EXPECT(ev.local);
  scuttle_event_free(&ev);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_STATUS_EMPTY);
  scuttle_gossip_free(g);
}

static void test_two_nodes_converge(void) {
  ScuttleGossip *a = node("a"), *b = node("b");
  ScuttleGossip *both[2] = {a, b};
  ScuttleEvent ev;
  ScuttleBytes syn, syn_ack, ack, none;
  size_t from_a = 0;

  EXPECT_STATUS(set(a, "ka", "1"), SCUTTLE_OK);
  EXPECT_STATUS(set(a, "shared", "from a"), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "kb", "2"), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "shared", "from b"), SCUTTLE_OK); /* version 2 vs 2: "b" wins */
  EXPECT_STATUS(scuttle_gossip_delete(b, NOW, S("kb"), NULL), SCUTTLE_OK);
  drain_events(a, SCUTTLE_EVENT_UPDATE);
  drain_events(b, SCUTTLE_EVENT_UPDATE);

  /* One exchange, one call per message: Syn, SynAck, Ack. */
  EXPECT_STATUS(scuttle_gossip_start_exchange(a, &syn), SCUTTLE_OK);
  EXPECT(syn.len > SCUTTLE_FRAME_PREFIX_LEN);
  EXPECT(((size_t)syn.ptr[0] << 24 | (size_t)syn.ptr[1] << 16 | (size_t)syn.ptr[2] << 8 |
          syn.ptr[3]) == syn.len - SCUTTLE_FRAME_PREFIX_LEN); /* the length prefix */
  EXPECT_STATUS(scuttle_gossip_handle_frame(b, NOW, syn.ptr, syn.len, &syn_ack), SCUTTLE_OK);
  EXPECT(syn_ack.ptr != NULL); /* a Syn is always answered */
  EXPECT_STATUS(scuttle_gossip_handle_frame(a, NOW, syn_ack.ptr, syn_ack.len, &ack), SCUTTLE_OK);
  EXPECT(ack.ptr != NULL); /* a has news for b */
  EXPECT_STATUS(scuttle_gossip_handle_frame(b, NOW, ack.ptr, ack.len, &none), SCUTTLE_OK);
  EXPECT(none.ptr == NULL && none.len == 0); /* the exchange is over */
  scuttle_bytes_free(&syn);
  scuttle_bytes_free(&syn_ack);
  scuttle_bytes_free(&ack);
  scuttle_bytes_free(&none);

  for (int i = 0; i < 2; i++) {
    ScuttleEntry e;
    EXPECT(has(both[i], "ka", "1"));
    EXPECT(has(both[i], "shared", "from b"));
    EXPECT_STATUS(scuttle_gossip_get(both[i], S("kb"), &e), SCUTTLE_STATUS_DELETED);
    scuttle_entry_free(&e);
    EXPECT(len_of(both[i]) == 2);
    EXPECT(version_of(both[i]) == 3);
  }
  /* b's events name the source and say they came from the peer (the last frame's sender). */
  while (scuttle_gossip_poll_event(b, &ev) == SCUTTLE_OK) {
    if (ev.kind == SCUTTLE_EVENT_UPDATE) {
      EXPECT(!ev.local);
      EXPECT(ev.source_id.len == 1 && ev.source_id.ptr[0] == 'a');
      from_a++;
    }
    scuttle_event_free(&ev);
  }
  EXPECT(from_a == 1); /* only ka won on b */
  /* kb set then deleted (history replays the superseded write), shared from b */
  EXPECT(drain_events(a, SCUTTLE_EVENT_UPDATE) == 3);

  /* Nothing new: the exchange ends after the SynAck. */
  EXPECT(exchange(a, b) == 2);
  EXPECT(exchange(b, a) == 2);
  EXPECT(drain_events(a, SCUTTLE_EVENT_UPDATE) == 0);
  scuttle_gossip_free(a);
  scuttle_gossip_free(b);
}

static void test_three_nodes_depth_mtu_1(void) {
  ScuttleConfig c = default_config();
  c.mtu = 1;
  c.sorter = SCUTTLE_SORTER_DEPTH;
  ScuttleGossip *nodes[3] = {node_with("n1", &c), node_with("n2", &c), node_with("n3", &c)};
  char key[8], value[8];
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) {
      snprintf(key, sizeof key, "k%d%d", i, j);
      snprintf(value, sizeof value, "v%d%d", i, j);
      EXPECT_STATUS(set(nodes[i], key, value), SCUTTLE_OK);
    }
  }
  for (int round = 0; round < 30; round++) {
    exchange(nodes[round % 3], nodes[(round + 1) % 3]);
  }
  for (int i = 0; i < 3; i++) {
    EXPECT(len_of(nodes[i]) == 9);
    EXPECT(has(nodes[i], "k21", "v21"));
    EXPECT(has(nodes[i], "k02", "v02"));
    scuttle_gossip_free(nodes[i]);
  }
}

static void test_decode_errors(void) {
  ScuttleConfig small = default_config();
  ScuttleGossip *g = node("a");
  ScuttleGossip *b = node("b");
  ScuttleGossip *s;
  ScuttleBytes frame, reply;
  uint8_t buf[600];
  static const uint8_t one[] = {0x01};
  static const uint8_t oversize[] = {0x7f, 0xff, 0xff, 0xff, 0xa0};
  static const uint8_t garbage[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};
  size_t n;

  /* A real frame: b's Syn. */
  EXPECT_STATUS(set(b, "k", "v"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_start_exchange(b, &frame), SCUTTLE_OK);
  EXPECT(frame.len > 4 && frame.len < sizeof buf - 1);

  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, NULL, 0, &reply), SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("shorter");
  EXPECT(reply.ptr == NULL);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, frame.ptr, 2, &reply), SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, frame.ptr, frame.len - 1, &reply),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("announces");
  memcpy(buf, frame.ptr, frame.len);
  buf[frame.len] = 0;
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, buf, frame.len + 1, &reply),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("trailing");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, oversize, sizeof oversize, &reply),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("exceeds");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, garbage, sizeof garbage, &reply),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("malformed");
  EXPECT(reply.ptr == NULL);
  EXPECT(drain_events(g, SCUTTLE_EVENT_UPDATE) == 0 && version_of(g) == 0);
  /* The whole frame is fine, and answered. */
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, frame.ptr, frame.len, &reply), SCUTTLE_OK);
  EXPECT(reply.ptr != NULL);
  scuttle_bytes_free(&reply);
  scuttle_bytes_free(&frame);

  /* A well-formed message above max_message_bytes is refused; a smaller one is not. */
  small.max_message_bytes = 64;
  s = node_with("s", &small);
  n = ack_frame(buf, 100, "x", one, sizeof one);
  EXPECT(n - SCUTTLE_FRAME_PREFIX_LEN > 64);
  EXPECT_STATUS(scuttle_gossip_handle_frame(s, NOW, buf, n, &reply), SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("exceeds");
  n = ack_frame(buf, 10, "x", one, sizeof one);
  EXPECT_STATUS(scuttle_gossip_handle_frame(s, NOW, buf, n, &reply), SCUTTLE_OK);
  EXPECT(reply.ptr == NULL); /* an Ack has no reply */
  EXPECT(len_of(s) == 1);
  scuttle_gossip_free(s);
  scuttle_gossip_free(g);
  scuttle_gossip_free(b);
}

static void test_protocol_error_and_overflow(void) {
  ScuttleGossip *g = node("a");
  ScuttleBytes reply;
  uint8_t frame[128];
  static const uint8_t zero[] = {0x00};
  static const uint8_t one[] = {0x01};
  static const uint8_t max[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  size_t n;

  n = ack_frame(frame, 1, "x", zero, sizeof zero);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, frame, n, &reply), SCUTTLE_STATUS_PROTOCOL_ERROR);
  EXPECT_ERROR_MENTIONS("version");
  EXPECT(version_of(g) == 0 && len_of(g) == 0);

  n = ack_frame(frame, 1, "x", one, sizeof one);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, frame, n, &reply), SCUTTLE_OK);
  EXPECT(reply.ptr == NULL);
  EXPECT(version_of(g) == 1 && len_of(g) == 1);

  /* A peer announcing the last version cannot exhaust this node's counter: news that far
     ahead of the clock waits and moves nothing. */
  n = ack_frame(frame, 2, "x", max, sizeof max);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NOW, frame, n, &reply), SCUTTLE_OK);
  EXPECT(version_of(g) == 1 && len_of(g) == 1);
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_OK);
  EXPECT(version_of(g) == 2);
  scuttle_gossip_free(g);
}

static void test_too_large_write(void) {
  ScuttleConfig c = default_config();
  c.max_message_bytes = 200;
  ScuttleGossip *a = node_with("a", &c), *b = node_with("b", &c);
  char big[301];
  memset(big, 'x', 300);
  big[300] = 0;
  EXPECT_STATUS(set(a, "k", big), SCUTTLE_STATUS_TOO_LARGE);
  EXPECT_ERROR_MENTIONS("max_message_bytes = 200");
  EXPECT_STATUS(set(a, big, ""), SCUTTLE_STATUS_TOO_LARGE);
  EXPECT_STATUS(scuttle_gossip_delete(a, NOW, S(big), NULL), SCUTTLE_STATUS_TOO_LARGE);
  EXPECT(version_of(a) == 0 && len_of(a) == 0); /* nothing changed */
  EXPECT(drain_events(a, SCUTTLE_EVENT_UPDATE) == 0);
  /* A write after it still goes through and reaches the peer. */
  big[30] = 0;
  EXPECT_STATUS(set(a, "k", big), SCUTTLE_OK);
  EXPECT(version_of(a) == 1);
  EXPECT(exchange(a, b) == 3);
  EXPECT(has(b, "k", big));
  scuttle_gossip_free(a);
  scuttle_gossip_free(b);
}

static void test_strict_resolver(void) {
  ScuttleConfig c = default_config();
  c.resolver = SCUTTLE_RESOLVER_STRICT;
  ScuttleGossip *g = node_with("a", &c);
  EXPECT_STATUS(set(g, "n", "5"), SCUTTLE_OK);
  EXPECT_STATUS(set(g, "n", "4"), SCUTTLE_STATUS_REJECTED);
  EXPECT_ERROR_MENTIONS("rejected");
  EXPECT_STATUS(set(g, "n", "5"), SCUTTLE_STATUS_REJECTED);
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW, S("n"), NULL), SCUTTLE_STATUS_REJECTED);
  EXPECT(version_of(g) == 1); /* rejected writes change nothing */
  EXPECT_STATUS(set(g, "n", "6"), SCUTTLE_OK);
  EXPECT(has(g, "n", "6"));
  scuttle_gossip_free(g);
}

static void test_lww_clock(void) {
  ScuttleConfig c = default_config();
  c.resolver = SCUTTLE_RESOLVER_LWW_CLOCK;
  ScuttleGossip *nodes[2] = {node_with("a", &c), node_with("b", &c)};
  ScuttleEntry e;
  EXPECT_STATUS(scuttle_gossip_set(nodes[0], 2000, S("k"), S("a at 2000"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_set(nodes[1], 1000, S("k"), S("b at 1000"), NULL), SCUTTLE_OK);
  /* A higher version, an older clock. */
  EXPECT_STATUS(scuttle_gossip_set(nodes[1], 1000, S("k"), S("b again"), NULL), SCUTTLE_OK);
  exchange(nodes[1], nodes[0]);
  for (int i = 0; i < 2; i++) {
    EXPECT(has(nodes[i], "k", "a at 2000"));
    EXPECT_STATUS(scuttle_gossip_get(nodes[i], S("k"), &e), SCUTTLE_OK);
    EXPECT(e.timestamp_ms == 2000);
    scuttle_entry_free(&e);
  }
  /* The system clock, through scuttle_now_ms(). */
  EXPECT_STATUS(scuttle_gossip_set(nodes[0], scuttle_now_ms(), S("k"), S("now"), NULL),
                SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_get(nodes[0], S("k"), &e), SCUTTLE_OK);
  EXPECT(e.timestamp_ms > 1000000000000ull);
  scuttle_entry_free(&e);
  scuttle_gossip_free(nodes[0]);
  scuttle_gossip_free(nodes[1]);
}

static void test_tombstone_collection(void) {
  ScuttleConfig c = default_config();
  c.tombstone_grace_ms = 100;
  ScuttleGossip *g = node_with("a", &c);
  ScuttleEntry e;
  size_t n = 99;
  uint64_t when = 0;
  EXPECT_STATUS(scuttle_gossip_delete(g, 1000, S("k"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_timeout(g, &when), SCUTTLE_OK);
  EXPECT(when == 1100);
  EXPECT_STATUS(scuttle_gossip_handle_timeout(g, 1099, &n), SCUTTLE_OK);
  EXPECT(n == 0);
  EXPECT_STATUS(scuttle_gossip_handle_timeout(g, when, &n), SCUTTLE_OK);
  EXPECT(n == 1);
  EXPECT_STATUS(scuttle_gossip_handle_timeout(g, 5000, NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_timeout(g, &when), SCUTTLE_STATUS_EMPTY);
  EXPECT(when == UINT64_MAX);
  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_STATUS_NOT_FOUND);
  scuttle_entry_free(&e);
  EXPECT(drain_events(g, SCUTTLE_EVENT_TOMBSTONES_COLLECTED) == 1);
  scuttle_gossip_free(g);

  /* 0 keeps them forever. */
  c.tombstone_grace_ms = 0;
  g = node_with("a", &c);
  EXPECT_STATUS(scuttle_gossip_delete(g, 1, S("k"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_timeout(g, &when), SCUTTLE_STATUS_EMPTY);
  EXPECT_STATUS(scuttle_gossip_handle_timeout(g, UINT64_MAX, &n), SCUTTLE_OK);
  EXPECT(n == 0);
  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_STATUS_DELETED);
  scuttle_entry_free(&e);
  scuttle_gossip_free(g);
}

static void test_compaction_event(void) {
  ScuttleConfig c = default_config();
  c.max_history = 1;
  ScuttleGossip *g = node_with("a", &c);
  ScuttleEvent ev;
  size_t compactions = 0;
  for (int i = 0; i < 4; i++) {
    char v[4];
    snprintf(v, sizeof v, "%d", i);
    EXPECT_STATUS(set(g, "k", v), SCUTTLE_OK);
  }
  while (scuttle_gossip_poll_event(g, &ev) == SCUTTLE_OK) {
    if (ev.kind == SCUTTLE_EVENT_COMPACTION) {
      compactions++;
      EXPECT(ev.count >= 1 && ev.history_len >= 1);
      EXPECT(ev.key.ptr == NULL);
    }
    scuttle_event_free(&ev);
  }
  EXPECT(compactions >= 1);
  scuttle_gossip_free(g);
}

/* ------------------------------------------------------------------ custom resolvers */

typedef struct Calls {
  int calls;
  int locals;
  int with_current;
  const char *fail_on; /* a key the callback cannot decide */
  ScuttleGossip *self;
  ScuttleStatus reentrant;
} Calls;

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c != 0 ? c : (al > bl) - (al < bl);
}

/* Last writer wins: (version, source_id), a total order on updates. */
static ScuttleDecision lww(void *user_data, const ScuttleEntryView *current,
                           const ScuttleEntryView *incoming) {
  Calls *calls = user_data;
  calls->calls++;
  calls->locals += incoming->local;
  if (calls->fail_on != NULL &&
      bytes_cmp(incoming->key, incoming->key_len, (const uint8_t *)calls->fail_on,
                strlen(calls->fail_on)) == 0) {
    return SCUTTLE_DECISION_ERROR;
  }
  if (current == NULL) {
    return SCUTTLE_DECISION_ACCEPT;
  }
  calls->with_current++;
  if (current->local) {
    calls->calls += 1000; /* never: the current entry is never "local" */
  }
  if (incoming->version != current->version) {
    return incoming->version > current->version;
  }
  return bytes_cmp(incoming->source_id, incoming->source_id_len, current->source_id,
                   current->source_id_len) > 0;
}

static ScuttleDecision refuse_all(void *user_data, const ScuttleEntryView *current,
                                  const ScuttleEntryView *incoming) {
  (void)user_data;
  (void)current;
  (void)incoming;
  return SCUTTLE_DECISION_REFUSE;
}

/* Calls back into its own handle (BUSY) and tries to free it (refused). */
static ScuttleDecision reentrant(void *user_data, const ScuttleEntryView *current,
                                 const ScuttleEntryView *incoming) {
  Calls *calls = user_data;
  size_t n = 0;
  (void)current;
  (void)incoming;
  calls->reentrant = scuttle_gossip_len(calls->self, &n);
  scuttle_gossip_free(calls->self);
  return SCUTTLE_DECISION_ACCEPT;
}

static void test_custom_resolver(void) {
  Calls calls = {0};
  ScuttleConfig c = default_config();
  ScuttleGossip *a = NULL, *b = node("b");
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), &c, lww, &calls, &a), SCUTTLE_OK);

  EXPECT_STATUS(set(a, "k", "1"), SCUTTLE_OK);
  EXPECT_STATUS(set(a, "k", "2"), SCUTTLE_OK);
  EXPECT(calls.calls == 2 && calls.locals == 2 && calls.with_current == 1);
  EXPECT_STATUS(set(b, "k", "b1"), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "k", "b2"), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "k", "b3"), SCUTTLE_OK);
  exchange(b, a);
  EXPECT(calls.calls >= 3 && calls.calls < 1000);
  EXPECT(calls.locals == 2);
  EXPECT(has(a, "k", "b3"));
  EXPECT(has(b, "k", "b3"));
  scuttle_gossip_free(a);
  scuttle_gossip_free(b);
}

static void test_custom_resolver_refusing(void) {
  ScuttleGossip *g = NULL;
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), NULL, refuse_all, NULL, &g), SCUTTLE_OK);
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_STATUS_REJECTED);
  EXPECT(len_of(g) == 0 && version_of(g) == 0);
  scuttle_gossip_free(g);
}

static void test_custom_resolver_failing(void) {
  Calls calls = {0};
  ScuttleGossip *a = NULL, *b = node("b");
  ScuttleBytes syn, syn_ack, reply;
  calls.fail_on = "k2";
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), NULL, lww, &calls, &a), SCUTTLE_OK);

  /* A local write the callback cannot decide. */
  EXPECT_STATUS(set(a, "k2", "v"), SCUTTLE_STATUS_CALLBACK_ERROR);
  EXPECT_ERROR_MENTIONS("nothing changed");
  EXPECT(version_of(a) == 0 && len_of(a) == 0);

  /* A message whose second update fails: its first update is not applied either. */
  EXPECT_STATUS(set(b, "k1", "1"), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "k2", "2"), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "k3", "3"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_start_exchange(a, &syn), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_handle_frame(b, NOW, syn.ptr, syn.len, &syn_ack), SCUTTLE_OK);
  calls.calls = 0;
  EXPECT_STATUS(scuttle_gossip_handle_frame(a, NOW, syn_ack.ptr, syn_ack.len, &reply),
                SCUTTLE_STATUS_CALLBACK_ERROR);
  EXPECT(calls.calls >= 2);
  EXPECT(reply.ptr == NULL);
  EXPECT(version_of(a) == 0 && len_of(a) == 0);
  EXPECT(drain_events(a, SCUTTLE_EVENT_UPDATE) == 0);
  /* Once the callback decides, the same message goes through. */
  calls.fail_on = NULL;
  EXPECT_STATUS(scuttle_gossip_handle_frame(a, NOW, syn_ack.ptr, syn_ack.len, &reply), SCUTTLE_OK);
  EXPECT(version_of(a) == 3 && len_of(a) == 3);
  EXPECT(drain_events(a, SCUTTLE_EVENT_UPDATE) == 3);
  scuttle_bytes_free(&reply);
  scuttle_bytes_free(&syn);
  scuttle_bytes_free(&syn_ack);
  scuttle_gossip_free(a);
  scuttle_gossip_free(b);
}

static void test_custom_resolver_errors(void) {
  ScuttleGossip *g = (ScuttleGossip *)&g;
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), NULL, NULL, NULL, &g),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("resolve is NULL");
  EXPECT(g == NULL);
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(NULL, 0, NULL, refuse_all, NULL, &g),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), NULL, refuse_all, NULL, NULL),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
}

static void test_reentrant_call_is_busy(void) {
  Calls calls = {0};
  ScuttleGossip *g = NULL;
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), NULL, reentrant, &calls, &g), SCUTTLE_OK);
  calls.self = g;
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_OK);
  EXPECT(calls.reentrant == SCUTTLE_STATUS_BUSY);
  EXPECT(len_of(g) == 1); /* the free from inside the callback was refused */
  scuttle_gossip_free(g);
}

/* ------------------------------------------------------------------ threads */

typedef struct Work {
  ScuttleGossip *g;
  const char *key;
  int ok;
} Work;

static void *write_many(void *arg) {
  Work *w = arg;
  char value[16];
  w->ok = 1;
  for (int i = 0; i < 100; i++) {
    snprintf(value, sizeof value, "%d", i);
    if (scuttle_gossip_set(w->g, scuttle_now_ms(), S(w->key), S(value), NULL) != SCUTTLE_OK) {
      w->ok = 0;
    }
  }
  /* The last error is per thread: this thread's successful calls left it empty. */
  if (strcmp(scuttle_last_error(), "") != 0) {
    w->ok = 0;
  }
  return NULL;
}

static void test_handles_on_threads(void) {
  /* Two handles used at once from two threads; one handle created here, used there. */
  Work w[2] = {{node("t1"), "k", 0}, {node("t2"), "k", 0}};
  pthread_t t[2];
  EXPECT_STATUS(scuttle_gossip_len(NULL, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  for (int i = 0; i < 2; i++) {
    EXPECT(pthread_create(&t[i], NULL, write_many, &w[i]) == 0);
  }
  for (int i = 0; i < 2; i++) {
    EXPECT(pthread_join(t[i], NULL) == 0);
    EXPECT(w[i].ok);
    EXPECT(version_of(w[i].g) == 100);
    EXPECT(has(w[i].g, "k", "99"));
    scuttle_gossip_free(w[i].g);
  }
}

/* ------------------------------------------------------------------ runner */

typedef struct Test {
  const char *name;
  void (*run)(void);
} Test;

/* ------------------------------------------------------------------ durable nodes */

/* A fresh directory for store files, and paths inside it. */
static char store_dir[64];

static void make_store_dir(void) {
  strcpy(store_dir, "/tmp/scuttle-c-test-XXXXXX");
  if (mkdtemp(store_dir) == NULL) {
    perror("mkdtemp");
    abort();
  }
}

static const char *store_path(const char *name) {
  static char path[128];
  snprintf(path, sizeof path, "%s/%s", store_dir, name);
  return path;
}

static void remove_store_dir(const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++) {
    remove(store_path(names[i]));
  }
  rmdir(store_dir);
}

static ScuttleConfig hybrid_config(void) {
  ScuttleConfig c = default_config();
  c.versions = SCUTTLE_VERSIONS_HYBRID;
  return c;
}

static ScuttleStatus open_node(const char *file, const char *id, const ScuttleConfig *c,
                               ScuttleGossip **out) {
  return scuttle_gossip_open(S(store_path(file)), S(id), c, out);
}

static void write_file(const char *file, const void *bytes, size_t len) {
  FILE *f = fopen(store_path(file), "wb");
  if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
    perror("write_file");
    abort();
  }
}

static void test_durable_reopen(void) {
  static const char *const files[] = {"a.redb"};
  ScuttleConfig c = hybrid_config();
  ScuttleGossip *g = NULL;
  uint64_t v1 = 0, v2 = 0, v3 = 0;
  make_store_dir();
  EXPECT_STATUS(open_node("a.redb", "a", &c, &g), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, S("k"), S("v"), &v1), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, S("gone"), S("x"), &v2), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_delete(g, NOW, S("gone"), &v3), SCUTTLE_OK);
  EXPECT(v1 >= (NOW << 16) && v1 < v2 && v2 < v3);
  EXPECT_STATUS(scuttle_gossip_flush(g), SCUTTLE_OK);
  drain_events(g, SCUTTLE_EVENT_UPDATE);
  scuttle_gossip_free(g);

  g = NULL;
  EXPECT_STATUS(open_node("a.redb", "a", &c, &g), SCUTTLE_OK);
  EXPECT(version_of(g) == v3);
  EXPECT(has(g, "k", "v"));
  EXPECT(len_of(g) == 1);
  ScuttleEntry e;
  EXPECT_STATUS(scuttle_gossip_get(g, S("gone"), &e), SCUTTLE_STATUS_DELETED);
  EXPECT(e.version == v3);
  scuttle_entry_free(&e);
  /* An update handed in by a frame is durable when the call returns. */
  ScuttleGossip *b = node_with("b", &c);
  EXPECT_STATUS(set(b, "from-b", "hi"), SCUTTLE_OK);
  exchange(b, g);
  EXPECT(drain_events(g, SCUTTLE_EVENT_UPDATE) == 1);
  scuttle_gossip_free(g);
  g = NULL;
  EXPECT_STATUS(open_node("a.redb", "a", &c, &g), SCUTTLE_OK);
  EXPECT(has(g, "from-b", "hi") && has(g, "k", "v"));
  scuttle_gossip_free(g);
  scuttle_gossip_free(b);
  remove_store_dir(files, 1);
}

static void test_store_errors(void) {
  static const char *const files[] = {"a.redb", "notes.txt", "cut.redb"};
  ScuttleConfig c = hybrid_config();
  ScuttleGossip *g = NULL;
  ScuttleGossip *other = (ScuttleGossip *)&c; /* not NULL: failures must write NULL */
  make_store_dir();
  EXPECT_STATUS(open_node("a.redb", "a", &c, &g), SCUTTLE_OK);
  for (int i = 0; i < 100; i++) {
    char key[16];
    snprintf(key, sizeof key, "key-%d", i);
    EXPECT_STATUS(set(g, key, "a value that takes some room"), SCUTTLE_OK);
  }
  /* Open: a second handle on the same file is refused. */
  EXPECT_STATUS(open_node("a.redb", "a", &c, &other), SCUTTLE_STATUS_STORE_LOCKED);
  EXPECT(other == NULL);
  scuttle_gossip_free(g);

  EXPECT_STATUS(open_node("a.redb", "b", &c, &other), SCUTTLE_STATUS_WRONG_NODE);
  EXPECT_ERROR_MENTIONS("\"a\"");
  EXPECT(other == NULL);

  static const char text[] = "not a database, just some notes\n";
  write_file("notes.txt", text, sizeof text - 1);
  EXPECT_STATUS(open_node("notes.txt", "a", &c, &other), SCUTTLE_STATUS_STORE_CORRUPT);
  EXPECT(other == NULL);

  /* The first half of the store: truncated. */
  FILE *f = fopen(store_path("a.redb"), "rb");
  static uint8_t buf[1 << 20];
  size_t n = f == NULL ? 0 : fread(buf, 1, sizeof buf, f);
  if (f != NULL) {
    fclose(f);
  }
  EXPECT(n > 4096 && n < sizeof buf);
  write_file("cut.redb", buf, n / 2);
  EXPECT_STATUS(open_node("cut.redb", "a", &c, &other), SCUTTLE_STATUS_STORE_CORRUPT);

  /* A directory that does not exist: an I/O error. */
  EXPECT_STATUS(open_node("missing/a.redb", "a", &c, &other), SCUTTLE_STATUS_STORE_ERROR);
  EXPECT_STATUS(scuttle_gossip_open(NULL, 0, S("a"), &c, &other), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_flush(NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);

  /* None of this touched the store. */
  g = NULL;
  EXPECT_STATUS(open_node("a.redb", "a", &c, &g), SCUTTLE_OK);
  EXPECT(len_of(g) == 100);
  scuttle_gossip_free(g);
  remove_store_dir(files, 3);
}

static void test_catching_up(void) {
  static const char *const files[] = {"b.redb"};
  ScuttleConfig c = hybrid_config();
  c.catch_up_ms = 60000;
  ScuttleGossip *a = node_with("a", &c), *b = NULL;
  make_store_dir();
  EXPECT_STATUS(open_node("b.redb", "b", &c, &b), SCUTTLE_OK);
  EXPECT_STATUS(set(b, "k", "v"), SCUTTLE_STATUS_CATCHING_UP);
  EXPECT_ERROR_MENTIONS("caught up");
  EXPECT(version_of(b) == 0);
  exchange(b, a);
  EXPECT_STATUS(set(b, "k", "v"), SCUTTLE_OK);
  /* Or the period passes with no peer heard, counted from the first now_ms. */
  ScuttleGossip *lonely = node_with("c", &c);
  EXPECT_STATUS(scuttle_gossip_set(lonely, NOW, S("k"), S("v"), NULL), SCUTTLE_STATUS_CATCHING_UP);
  EXPECT_STATUS(scuttle_gossip_set(lonely, NOW + 60000, S("k"), S("v"), NULL), SCUTTLE_OK);
  scuttle_gossip_free(lonely);
  scuttle_gossip_free(a);
  scuttle_gossip_free(b);
  remove_store_dir(files, 1);
}

static void test_durable_custom_resolver(void) {
  static const char *const files[] = {"a.redb"};
  ScuttleConfig c = hybrid_config();
  Calls calls;
  ScuttleGossip *g = NULL;
  memset(&calls, 0, sizeof calls);
  make_store_dir();
  const char *path = store_path("a.redb");
  EXPECT_STATUS(scuttle_gossip_open_with_resolver(S(path), S("a"), &c, lww, &calls, &g),
                SCUTTLE_OK);
  EXPECT_STATUS(set(g, "k", "1"), SCUTTLE_OK);
  EXPECT(calls.calls == 1 && calls.with_current == 0);
  scuttle_gossip_free(g);
  g = NULL;
  EXPECT_STATUS(scuttle_gossip_open_with_resolver(S(path), S("a"), &c, lww, &calls, &g),
                SCUTTLE_OK);
  EXPECT(has(g, "k", "1"));
  EXPECT(calls.calls == 1); /* loading asks nothing */
  EXPECT_STATUS(set(g, "k", "2"), SCUTTLE_OK);
  EXPECT(calls.calls == 2 && calls.with_current == 1); /* judged against the loaded entry */
  scuttle_gossip_free(g);
  g = (ScuttleGossip *)&calls;
  EXPECT_STATUS(scuttle_gossip_open_with_resolver(S(path), S("a"), &c, NULL, NULL, &g),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(g == NULL);
  remove_store_dir(files, 1);
}

/* The configuration struct of the layout-2 header, as a program built against it passes it. */
typedef struct {
  uint32_t version;
  ScuttleResolverKind resolver;
  ScuttleSorterKind sorter;
  size_t mtu;
  size_t max_message_bytes;
  size_t max_history;
  uint64_t tombstone_grace_ms;
} ConfigV2;

static void test_config_layout_2(void) {
  ConfigV2 *old = malloc(sizeof *old); /* exactly its size: valgrind sees any read past it */
  ScuttleGossip *g = NULL;
  if (old == NULL) {
    abort();
  }
  old->version = 2;
  old->resolver = SCUTTLE_RESOLVER_STRICT;
  old->sorter = SCUTTLE_SORTER_BREADTH;
  old->mtu = 10;
  old->max_message_bytes = 1 << 20;
  old->max_history = 10;
  old->tombstone_grace_ms = 0;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), (const ScuttleConfig *)(const void *)old, &g),
                SCUTTLE_OK);
  free(old);
  uint64_t v = 0;
  EXPECT_STATUS(scuttle_gossip_set(g, NOW, S("k"), S("b"), &v), SCUTTLE_OK);
  EXPECT(v == 1); /* counter versions: the default for a layout-2 caller */
  EXPECT_STATUS(set(g, "k", "a"), SCUTTLE_STATUS_REJECTED); /* the strict resolver was read */
  scuttle_gossip_free(g);
}

#define TEST(fn) {#fn, fn}

int main(void) {
  static const Test tests[] = {
      TEST(test_config_default),
      TEST(test_new_and_free),
      TEST(test_new_errors),
      TEST(test_last_error),
      TEST(test_now_ms),
      TEST(test_set_get_delete),
      TEST(test_argument_errors),
      TEST(test_id_and_bytes_free),
      TEST(test_keys),
      TEST(test_poll_empty),
      TEST(test_events_of_local_writes),
      TEST(test_two_nodes_converge),
      TEST(test_three_nodes_depth_mtu_1),
      TEST(test_decode_errors),
      TEST(test_protocol_error_and_overflow),
      TEST(test_too_large_write),
      TEST(test_strict_resolver),
      TEST(test_lww_clock),
      TEST(test_tombstone_collection),
      TEST(test_compaction_event),
      TEST(test_custom_resolver),
      TEST(test_custom_resolver_refusing),
      TEST(test_custom_resolver_failing),
      TEST(test_custom_resolver_errors),
      TEST(test_reentrant_call_is_busy),
      TEST(test_handles_on_threads),
      TEST(test_durable_reopen),
      TEST(test_store_errors),
      TEST(test_catching_up),
      TEST(test_durable_custom_resolver),
      TEST(test_config_layout_2),
  };
  size_t n = sizeof tests / sizeof tests[0];
  int passed = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    tests_failed_here = 0;
    tests[i].run();
    if (tests_failed_here) {
      failed++;
      printf("FAIL %s\n", tests[i].name);
    } else {
      passed++;
      printf("ok   %s\n", tests[i].name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
