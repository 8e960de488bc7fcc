/*
 * test_scuttle.c: tests of the scuttle C API, in plain C with a small runner.
 *
 * Every call of scuttle.h and each of its error paths is exercised here, except
 * SCUTTLE_STATUS_PANIC, which C code cannot provoke (a C callback cannot panic); the Rust unit
 * tests of the crate cover it. Run by scripts/test-c.sh, normally and under valgrind. The last
 * line is "N passed, M failed"; the exit status is 0 only when M is 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scuttle.h"

static int tests_failed_here;

#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "  %s:%d: expected %s (last error: \"%s\")\n", __FILE__,    \
              __LINE__, #cond, scuttle_last_error());                             \
      tests_failed_here = 1;                                                      \
    }                                                                             \
  } while (0)

#define EXPECT_STATUS(call, want)                                                 \
  do {                                                                            \
    ScuttleStatus got_ = (call);                                                  \
    if (got_ != (want)) {                                                         \
      fprintf(stderr, "  %s:%d: %s returned %d, expected %s (%d); last error: "   \
                      "\"%s\"\n",                                                 \
              __FILE__, __LINE__, #call, (int)got_, #want, (int)(want),           \
              scuttle_last_error());                                              \
      tests_failed_here = 1;                                                      \
    }                                                                             \
  } while (0)

#define EXPECT_ERROR_MENTIONS(text)                                               \
  EXPECT(strstr(scuttle_last_error(), (text)) != NULL)

#define S(str) (const uint8_t *)(str), strlen(str)

/* ------------------------------------------------------------------ helpers */

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
  return scuttle_gossip_set(g, S(key), S(value), NULL);
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

typedef struct Named {
  const char *name;
  ScuttleGossip *g;
} Named;

/* Delivers frames between nodes until none is left; returns the number delivered. */
static size_t run(Named *nodes, size_t n) {
  size_t delivered = 0;
  for (int guard = 0; guard < 10000; guard++) {
    int idle = 1;
    for (size_t i = 0; i < n; i++) {
      ScuttleBytes peer, frame;
      while (scuttle_gossip_poll_transmit(nodes[i].g, &peer, &frame) == SCUTTLE_OK) {
        for (size_t j = 0; j < n; j++) {
          if (strlen(nodes[j].name) == peer.len && memcmp(nodes[j].name, peer.ptr, peer.len) == 0) {
            EXPECT_STATUS(
                scuttle_gossip_handle_frame(nodes[j].g, S(nodes[i].name), frame.ptr, frame.len),
                SCUTTLE_OK);
          }
        }
        scuttle_bytes_free(&peer);
        scuttle_bytes_free(&frame);
        delivered++;
        idle = 0;
      }
    }
    if (idle) {
      return delivered;
    }
  }
  EXPECT(!"the exchange never settles");
  return delivered;
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

/* Builds one frame holding {"key": [key_len bytes of 1], "value": [], "source_id": source,
 * "version": <version_cbor>} into `out` (at least 128 bytes); returns its length. */
static size_t update_frame(uint8_t *out, size_t key_len, const char *source,
                           const uint8_t *version_cbor, size_t version_cbor_len) {
  uint8_t body[120];
  size_t n = 0;
  body[n++] = 0xa4; /* map of 4 */
  body[n++] = 0x63;
  memcpy(body + n, "key", 3);
  n += 3;
  body[n++] = (uint8_t)(0x80 | key_len); /* array, key_len <= 23 */
  for (size_t i = 0; i < key_len; i++) {
    body[n++] = 1;
  }
  body[n++] = 0x65;
  memcpy(body + n, "value", 5);
  n += 5;
  body[n++] = 0x80;
  body[n++] = 0x69;
  memcpy(body + n, "source_id", 9);
  n += 9;
  body[n++] = (uint8_t)(0x60 | strlen(source)); /* text, < 24 bytes */
  memcpy(body + n, source, strlen(source));
  n += strlen(source);
  body[n++] = 0x67;
  memcpy(body + n, "version", 7);
  n += 7;
  memcpy(body + n, version_cbor, version_cbor_len);
  n += version_cbor_len;
  out[0] = 0;
  out[1] = 0;
  out[2] = (uint8_t)(n >> 8);
  out[3] = (uint8_t)n;
  memcpy(out + 4, body, n);
  return n + 4;
}

/* ------------------------------------------------------------------ tests */

static void test_config_default(void) {
  ScuttleConfig c;
  memset(&c, 0xab, sizeof c);
  EXPECT_STATUS(scuttle_config_default(&c), SCUTTLE_OK);
  EXPECT(c.mtu == 10);
  EXPECT(c.max_history == 10);
  EXPECT(c.resolver == SCUTTLE_RESOLVER_LWW);
  EXPECT(c.sorter == SCUTTLE_SORTER_BREADTH);
  EXPECT(c.tombstone_grace_ms == 3600000);
  EXPECT(c.max_frame_size == 4 * 1024 * 1024);
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
  c.mtu = 0;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("mtu");
  c = good;
  c.max_frame_size = 63;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("max_frame_size");
  c = good;
  c.resolver = 42;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("resolver");
  c = good;
  c.sorter = 42;
  EXPECT_STATUS(scuttle_gossip_new(S("a"), &c, &g), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("sorter");
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

static void test_set_get_delete(void) {
  ScuttleGossip *g = node("a");
  uint64_t v = 0;
  ScuttleEntry e;

  EXPECT(version_of(g) == 0);
  EXPECT(len_of(g) == 0);
  EXPECT_STATUS(scuttle_gossip_set(g, S("k"), S("v1"), &v), SCUTTLE_OK);
  EXPECT(v == 1);
  EXPECT_STATUS(scuttle_gossip_set(g, S("k"), S("v2"), &v), SCUTTLE_OK);
  EXPECT(v == 2);
  EXPECT_STATUS(scuttle_gossip_set(g, NULL, 0, NULL, 0, &v), SCUTTLE_OK); /* empty key, empty value */
  EXPECT(v == 3);

  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_OK);
  EXPECT(e.value.len == 2 && memcmp(e.value.ptr, "v2", 2) == 0);
  EXPECT(e.value.ptr[e.value.len] == 0); /* NUL after the bytes */
  EXPECT(!e.deleted);
  EXPECT(e.version == 2);
  EXPECT(e.source_id.len == 1 && strcmp((const char *)e.source_id.ptr, "a") == 0);
  EXPECT(e.timestamp_ms > 0); /* the system clock */
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
  EXPECT_STATUS(scuttle_gossip_delete(g, S("k"), &v), SCUTTLE_OK);
  EXPECT(v == 4);
  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_STATUS_DELETED);
  EXPECT(e.deleted && e.version == 4 && e.value.ptr == NULL && e.source_id.len == 1);
  scuttle_entry_free(&e);
  EXPECT(len_of(g) == 1);
  /* Deleting an unknown key writes a tombstone; version_out may be NULL. */
  EXPECT_STATUS(scuttle_gossip_delete(g, S("never-set"), NULL), SCUTTLE_OK);
  EXPECT(version_of(g) == 5);
  EXPECT(len_of(g) == 1);
  scuttle_gossip_free(g);
}

static void test_argument_errors(void) {
  ScuttleGossip *g = node("a");
  ScuttleEntry e;
  ScuttleEvent ev;
  ScuttleBytes b1, b2;
  ScuttleKeys *keys = NULL;
  size_t n = 0;
  uint64_t v = 0;
  const uint8_t *k = (const uint8_t *)"k";

  EXPECT_STATUS(scuttle_gossip_set(NULL, k, 1, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("gossip is NULL");
  EXPECT_STATUS(scuttle_gossip_set(g, NULL, 1, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("key is NULL");
  EXPECT_STATUS(scuttle_gossip_set(g, k, 1, NULL, 2, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("value is NULL");
  EXPECT_STATUS(scuttle_gossip_set(g, k, SIZE_MAX, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("too large");
  EXPECT_STATUS(scuttle_gossip_delete(NULL, k, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_delete(g, NULL, 1, &v), SCUTTLE_STATUS_INVALID_ARGUMENT);
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
  EXPECT_STATUS(scuttle_gossip_gossip(NULL, S("b")), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_gossip(g, NULL, 1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_gossip(g, (const uint8_t *)"", 0), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_gossip(g, (const uint8_t *)"\xc3", 1),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("UTF-8");
  EXPECT_STATUS(scuttle_gossip_gossip(g, S("a")), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("itself");
  EXPECT_STATUS(scuttle_gossip_poll_transmit(NULL, &b1, &b2), SCUTTLE_STATUS_INVALID_ARGUMENT);
  b2.ptr = (uint8_t *)k; /* garbage: outputs are zeroed even when the call fails */
  EXPECT_STATUS(scuttle_gossip_poll_transmit(g, NULL, &b2), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(b2.ptr == NULL && b2.len == 0);
  EXPECT_STATUS(scuttle_gossip_poll_transmit(g, &b1, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(b1.ptr == NULL);
  EXPECT_STATUS(scuttle_gossip_handle_frame(NULL, S("b"), k, 1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, NULL, 1, k, 1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), NULL, 1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_poll_event(NULL, &ev), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_forget_peer(NULL, S("b")), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_forget_peer(g, NULL, 1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_set_time(NULL, 1), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_gossip_collect_tombstones(NULL, &n), SCUTTLE_STATUS_INVALID_ARGUMENT);
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
  EXPECT_STATUS(scuttle_gossip_delete(g, S("c"), NULL), SCUTTLE_OK);
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
  ScuttleBytes peer, frame;
  ScuttleEvent ev;
  EXPECT_STATUS(scuttle_gossip_poll_transmit(g, &peer, &frame), SCUTTLE_STATUS_EMPTY);
  EXPECT(peer.ptr == NULL && frame.ptr == NULL);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_STATUS_EMPTY);
  EXPECT(ev.kind == SCUTTLE_EVENT_OTHER && ev.key.ptr == NULL);
  scuttle_event_free(&ev);
  scuttle_gossip_free(g);
}

static void test_events_of_local_writes(void) {
  ScuttleGossip *g = node("a");
  ScuttleEvent ev;
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_delete(g, S("k"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_OK);
  EXPECT(ev.kind == SCUTTLE_EVENT_UPDATE);
  EXPECT(ev.key.len == 1 && ev.key.ptr[0] == 'k');
  EXPECT(ev.value.len == 1 && ev.value.ptr[0] == 'v');
  EXPECT(!ev.deleted && ev.version == 1);
  EXPECT(ev.source_id.len == 1 && ev.source_id.ptr[0] == 'a');
  EXPECT(ev.from.ptr == NULL); /* a local write */
  scuttle_event_free(&ev);
  EXPECT(ev.key.ptr == NULL && ev.value.ptr == NULL && ev.source_id.ptr == NULL);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_OK);
  EXPECT(ev.kind == SCUTTLE_EVENT_UPDATE && ev.deleted && ev.version == 2 && ev.value.ptr == NULL);
  scuttle_event_free(&ev);
  EXPECT_STATUS(scuttle_gossip_poll_event(g, &ev), SCUTTLE_STATUS_EMPTY);
  scuttle_gossip_free(g);
}

static void test_two_nodes_converge(void) {
  Named nodes[2] = {{"a", node("a")}, {"b", node("b")}};
  ScuttleEvent ev;
  size_t from_a = 0;

  EXPECT_STATUS(set(nodes[0].g, "ka", "1"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[0].g, "shared", "from a"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[1].g, "kb", "2"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[1].g, "shared", "from b"), SCUTTLE_OK); /* version 2 vs 2: "b" wins */
  EXPECT_STATUS(scuttle_gossip_delete(nodes[1].g, S("kb"), NULL), SCUTTLE_OK);
  drain_events(nodes[0].g, SCUTTLE_EVENT_UPDATE);
  drain_events(nodes[1].g, SCUTTLE_EVENT_UPDATE);

  EXPECT_STATUS(scuttle_gossip_gossip(nodes[0].g, S("b")), SCUTTLE_OK);
  EXPECT(run(nodes, 2) >= 6);
  for (int i = 0; i < 2; i++) {
    ScuttleEntry e;
    EXPECT(has(nodes[i].g, "ka", "1"));
    EXPECT(has(nodes[i].g, "shared", "from b"));
    EXPECT_STATUS(scuttle_gossip_get(nodes[i].g, S("kb"), &e), SCUTTLE_STATUS_DELETED);
    scuttle_entry_free(&e);
    EXPECT(len_of(nodes[i].g) == 2);
    EXPECT(version_of(nodes[i].g) == 3);
  }
  /* b's events name the source and the peer that delivered. */
  while (scuttle_gossip_poll_event(nodes[1].g, &ev) == SCUTTLE_OK) {
    if (ev.kind == SCUTTLE_EVENT_UPDATE) {
      EXPECT(ev.from.len == 1 && ev.from.ptr[0] == 'a');
      EXPECT(ev.source_id.len == 1 && ev.source_id.ptr[0] == 'a');
      from_a++;
    }
    scuttle_event_free(&ev);
  }
  EXPECT(from_a == 1); /* only ka won on b */
  scuttle_gossip_free(nodes[0].g);
  scuttle_gossip_free(nodes[1].g);
}

static void test_three_nodes_depth_mtu_1(void) {
  ScuttleConfig c = default_config();
  c.mtu = 1;
  c.sorter = SCUTTLE_SORTER_DEPTH;
  Named nodes[3] = {{"n1", node_with("n1", &c)}, {"n2", node_with("n2", &c)},
                    {"n3", node_with("n3", &c)}};
  char key[8], value[8];
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) {
      snprintf(key, sizeof key, "k%d%d", i, j);
      snprintf(value, sizeof value, "v%d%d", i, j);
      EXPECT_STATUS(set(nodes[i].g, key, value), SCUTTLE_OK);
    }
  }
  for (int round = 0; round < 30; round++) {
    Named *from = &nodes[round % 3], *to = &nodes[(round + 1) % 3];
    EXPECT_STATUS(scuttle_gossip_gossip(from->g, S(to->name)), SCUTTLE_OK);
    run(nodes, 3);
  }
  for (int i = 0; i < 3; i++) {
    EXPECT(len_of(nodes[i].g) == 9);
    EXPECT(has(nodes[i].g, "k21", "v21"));
    EXPECT(has(nodes[i].g, "k02", "v02"));
    scuttle_gossip_free(nodes[i].g);
  }
}

static void test_decode_errors(void) {
  ScuttleGossip *g = node("a");
  ScuttleGossip *b = node("b");
  ScuttleBytes peer, frame;
  uint8_t buf[64];
  static const uint8_t oversize[] = {0x7f, 0xff, 0xff, 0xff, 0xa0};
  static const uint8_t garbage[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};

  /* A real frame: b's DigestDone for a. */
  EXPECT_STATUS(scuttle_gossip_gossip(b, S("a")), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_transmit(b, &peer, &frame), SCUTTLE_OK);
  EXPECT(frame.len > 4 && frame.len < sizeof buf - 1);
  EXPECT(((size_t)frame.ptr[2] << 8 | frame.ptr[3]) == frame.len - 4); /* the length prefix */

  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), NULL, 0), SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("shorter");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), frame.ptr, 2), SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), frame.ptr, frame.len - 1),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("announces");
  memcpy(buf, frame.ptr, frame.len);
  buf[frame.len] = 0;
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), buf, frame.len + 1),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("trailing");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), oversize, sizeof oversize),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("exceeds");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), garbage, sizeof garbage),
                SCUTTLE_STATUS_DECODE_ERROR);
  EXPECT_ERROR_MENTIONS("malformed");
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, (const uint8_t *)"\xff", 1, frame.ptr, frame.len),
                SCUTTLE_STATUS_INVALID_ARGUMENT);
  {
    ScuttleBytes p2, f2;
    EXPECT_STATUS(scuttle_gossip_poll_transmit(g, &p2, &f2), SCUTTLE_STATUS_EMPTY);
  }
  /* The whole frame is fine. */
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("b"), frame.ptr, frame.len), SCUTTLE_OK);
  scuttle_bytes_free(&peer);
  scuttle_bytes_free(&frame);
  scuttle_gossip_free(g);
  scuttle_gossip_free(b);
}

static void test_protocol_error_and_overflow(void) {
  ScuttleGossip *g = node("a");
  uint8_t frame[128];
  static const uint8_t zero[] = {0x00};
  static const uint8_t one[] = {0x01};
  static const uint8_t max[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  size_t n;

  n = update_frame(frame, 1, "x", zero, sizeof zero);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("x"), frame, n), SCUTTLE_STATUS_PROTOCOL_ERROR);
  EXPECT_ERROR_MENTIONS("version");
  EXPECT(version_of(g) == 0 && len_of(g) == 0);

  n = update_frame(frame, 1, "x", one, sizeof one);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("x"), frame, n), SCUTTLE_OK);
  EXPECT(version_of(g) == 1 && len_of(g) == 1);

  /* A peer announcing the last version exhausts this node's counter. */
  n = update_frame(frame, 2, "x", max, sizeof max);
  EXPECT_STATUS(scuttle_gossip_handle_frame(g, S("x"), frame, n), SCUTTLE_OK);
  EXPECT(version_of(g) == UINT64_MAX);
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_STATUS_VERSION_OVERFLOW);
  EXPECT_ERROR_MENTIONS("overflow");
  scuttle_gossip_free(g);
}

static void test_encode_error(void) {
  /* x accepts frames up to 64 bytes. An update without prev and timestamp of 54 bytes fits;
   * relayed to z it gains both (71 bytes) and no longer fits. */
  ScuttleConfig small = default_config();
  small.max_frame_size = 64;
  ScuttleGossip *x = node_with("x", &small);
  ScuttleGossip *z = node("z");
  static const uint8_t one[] = {0x01};
  uint8_t frame[128];
  ScuttleBytes peer, out;
  size_t n = update_frame(frame, 20, "y", one, sizeof one);
  EXPECT(n - 4 == 54);
  EXPECT_STATUS(scuttle_gossip_handle_frame(x, S("y"), frame, n), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_gossip(z, S("x")), SCUTTLE_OK);
  while (scuttle_gossip_poll_transmit(z, &peer, &out) == SCUTTLE_OK) {
    EXPECT_STATUS(scuttle_gossip_handle_frame(x, S("z"), out.ptr, out.len), SCUTTLE_OK);
    scuttle_bytes_free(&peer);
    scuttle_bytes_free(&out);
  }
  EXPECT_STATUS(scuttle_gossip_poll_transmit(x, &peer, &out), SCUTTLE_STATUS_ENCODE_ERROR);
  EXPECT_ERROR_MENTIONS("dropped");
  EXPECT(peer.ptr == NULL && out.ptr == NULL);
  /* The rest of the queue (x's reply digest) still goes out. */
  EXPECT_STATUS(scuttle_gossip_poll_transmit(x, &peer, &out), SCUTTLE_OK);
  scuttle_bytes_free(&peer);
  scuttle_bytes_free(&out);
  scuttle_gossip_free(x);
  scuttle_gossip_free(z);
}

static void test_too_large_write(void) {
  ScuttleConfig c = default_config();
  c.max_frame_size = 200;
  ScuttleGossip *g = node_with("a", &c);
  char big[301];
  memset(big, 'x', 300);
  big[300] = 0;
  EXPECT_STATUS(set(g, "k", big), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("max_frame_size");
  EXPECT_STATUS(scuttle_gossip_delete(g, S(big), NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  big[30] = 0;
  EXPECT_STATUS(set(g, "k", big), SCUTTLE_OK);
  EXPECT(version_of(g) == 1);
  scuttle_gossip_free(g);
}

static void test_strict_resolver(void) {
  ScuttleConfig c = default_config();
  c.resolver = SCUTTLE_RESOLVER_STRICT;
  ScuttleGossip *g = node_with("a", &c);
  EXPECT_STATUS(set(g, "n", "5"), SCUTTLE_OK);
  EXPECT_STATUS(set(g, "n", "4"), SCUTTLE_STATUS_REJECTED);
  EXPECT_ERROR_MENTIONS("rejected");
  EXPECT_STATUS(set(g, "n", "5"), SCUTTLE_STATUS_REJECTED);
  EXPECT_STATUS(scuttle_gossip_delete(g, S("n"), NULL), SCUTTLE_STATUS_REJECTED);
  EXPECT(version_of(g) == 1); /* rejected writes change nothing */
  EXPECT_STATUS(set(g, "n", "6"), SCUTTLE_OK);
  EXPECT(has(g, "n", "6"));
  scuttle_gossip_free(g);
}

static void test_lww_clock_and_set_time(void) {
  ScuttleConfig c = default_config();
  c.resolver = SCUTTLE_RESOLVER_LWW_CLOCK;
  Named nodes[2] = {{"a", node_with("a", &c)}, {"b", node_with("b", &c)}};
  ScuttleEntry e;
  EXPECT_STATUS(scuttle_gossip_set_time(nodes[0].g, 2000), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_set_time(nodes[1].g, 1000), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[0].g, "k", "a at 2000"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[1].g, "k", "b at 1000"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[1].g, "k", "b again"), SCUTTLE_OK); /* higher version, older clock */
  EXPECT_STATUS(scuttle_gossip_gossip(nodes[1].g, S("a")), SCUTTLE_OK);
  run(nodes, 2);
  for (int i = 0; i < 2; i++) {
    EXPECT(has(nodes[i].g, "k", "a at 2000"));
    EXPECT_STATUS(scuttle_gossip_get(nodes[i].g, S("k"), &e), SCUTTLE_OK);
    EXPECT(e.timestamp_ms == 2000);
    scuttle_entry_free(&e);
  }
  /* 0 returns to the system clock. */
  EXPECT_STATUS(scuttle_gossip_set_time(nodes[0].g, 0), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[0].g, "k", "now"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_get(nodes[0].g, S("k"), &e), SCUTTLE_OK);
  EXPECT(e.timestamp_ms > 1000000000000ull);
  scuttle_entry_free(&e);
  scuttle_gossip_free(nodes[0].g);
  scuttle_gossip_free(nodes[1].g);
}

static void test_tombstone_collection(void) {
  ScuttleConfig c = default_config();
  c.tombstone_grace_ms = 100;
  ScuttleGossip *g = node_with("a", &c);
  ScuttleEntry e;
  size_t n = 99;
  EXPECT_STATUS(scuttle_gossip_set_time(g, 1000), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_delete(g, S("k"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_collect_tombstones(g, &n), SCUTTLE_OK);
  EXPECT(n == 0);
  EXPECT_STATUS(scuttle_gossip_set_time(g, 1100), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_collect_tombstones(g, &n), SCUTTLE_OK);
  EXPECT(n == 1);
  EXPECT_STATUS(scuttle_gossip_collect_tombstones(g, NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_get(g, S("k"), &e), SCUTTLE_STATUS_NOT_FOUND);
  scuttle_entry_free(&e);
  EXPECT(drain_events(g, SCUTTLE_EVENT_TOMBSTONES_COLLECTED) == 1);
  scuttle_gossip_free(g);

  /* 0 keeps them forever. */
  c.tombstone_grace_ms = 0;
  g = node_with("a", &c);
  EXPECT_STATUS(scuttle_gossip_set_time(g, 1), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_delete(g, S("k"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_set_time(g, UINT64_MAX), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_collect_tombstones(g, &n), SCUTTLE_OK);
  EXPECT(n == 0);
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

static void test_forget_peer(void) {
  ScuttleGossip *g = node("a");
  ScuttleBytes peer, frame;
  EXPECT_STATUS(scuttle_gossip_gossip(g, S("b")), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_forget_peer(g, S("b")), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_poll_transmit(g, &peer, &frame), SCUTTLE_STATUS_EMPTY);
  EXPECT_STATUS(scuttle_gossip_forget_peer(g, S("never-seen")), SCUTTLE_OK);
  scuttle_gossip_free(g);
}

/* ------------------------------------------------------------------ custom resolvers */

typedef struct Calls {
  int calls;
  int locals;
  int with_current;
  ScuttleGossip *self;
  ScuttleStatus reentrant;
} Calls;

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c != 0 ? c : (al > bl) - (al < bl);
}

/* Last writer wins: (version, source_id), a total order on updates. */
static bool lww(void *user_data, const ScuttleEntryView *current, const ScuttleEntryView *incoming) {
  Calls *calls = user_data;
  calls->calls++;
  calls->locals += incoming->local;
  if (current == NULL) {
    return true;
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

static bool refuse_all(void *user_data, const ScuttleEntryView *current,
                       const ScuttleEntryView *incoming) {
  (void)user_data;
  (void)current;
  (void)incoming;
  return false;
}

/* Calls back into its own handle (BUSY) and tries to free it (refused). */
static bool reentrant(void *user_data, const ScuttleEntryView *current,
                      const ScuttleEntryView *incoming) {
  Calls *calls = user_data;
  size_t n = 0;
  (void)current;
  (void)incoming;
  calls->reentrant = scuttle_gossip_len(calls->self, &n);
  scuttle_gossip_free(calls->self);
  return true;
}

static void test_custom_resolver(void) {
  Calls calls = {0};
  ScuttleConfig c = default_config();
  ScuttleGossip *a = NULL;
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), &c, lww, &calls, &a), SCUTTLE_OK);
  Named nodes[2] = {{"a", a}, {"b", node("b")}};

  EXPECT_STATUS(set(a, "k", "1"), SCUTTLE_OK);
  EXPECT_STATUS(set(a, "k", "2"), SCUTTLE_OK);
  EXPECT(calls.calls == 2 && calls.locals == 2 && calls.with_current == 1);
  EXPECT_STATUS(set(nodes[1].g, "k", "b1"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[1].g, "k", "b2"), SCUTTLE_OK);
  EXPECT_STATUS(set(nodes[1].g, "k", "b3"), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_gossip_gossip(nodes[1].g, S("a")), SCUTTLE_OK);
  run(nodes, 2);
  EXPECT(calls.calls >= 3 && calls.calls < 1000);
  EXPECT(calls.locals == 2);
  EXPECT(has(a, "k", "b3"));
  EXPECT(has(nodes[1].g, "k", "b3"));
  scuttle_gossip_free(a);
  scuttle_gossip_free(nodes[1].g);
}

static void test_custom_resolver_refusing(void) {
  ScuttleGossip *g = NULL;
  EXPECT_STATUS(scuttle_gossip_new_with_resolver(S("a"), NULL, refuse_all, NULL, &g), SCUTTLE_OK);
  EXPECT_STATUS(set(g, "k", "v"), SCUTTLE_STATUS_REJECTED);
  EXPECT(len_of(g) == 0 && version_of(g) == 0);
  scuttle_gossip_free(g);
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
    if (scuttle_gossip_set(w->g, S(w->key), S(value), NULL) != SCUTTLE_OK) {
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

#define TEST(fn) {#fn, fn}

int main(void) {
  static const Test tests[] = {
      TEST(test_config_default),
      TEST(test_new_and_free),
      TEST(test_new_errors),
      TEST(test_last_error),
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
      TEST(test_encode_error),
      TEST(test_too_large_write),
      TEST(test_strict_resolver),
      TEST(test_lww_clock_and_set_time),
      TEST(test_tombstone_collection),
      TEST(test_compaction_event),
      TEST(test_forget_peer),
      TEST(test_custom_resolver),
      TEST(test_custom_resolver_refusing),
      TEST(test_custom_resolver_errors),
      TEST(test_reentrant_call_is_busy),
      TEST(test_handles_on_threads),
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
