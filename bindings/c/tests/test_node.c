/*
 * test_node.c: tests of the networked node API of scuttle.h (scuttle_node_*), in plain C.
 *
 * Two nodes run on loopback with free ports: over libp2p (the default transport: noise, yamux,
 * SWIM membership) and over the plain TCP transport. Waits poll events with a generous bound
 * and stop as soon as the awaited event comes; no test depends on how long anything takes.
 * Run by scripts/test-c.sh, normally and under valgrind (libp2p included: a run takes a few
 * seconds there). The last line is "N passed, M failed"; the exit status is 0 only when M is 0.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scuttle.h"

#include "expect.h"

/* Polls of up to POLL_MS each before a wait gives up: minutes, far beyond what loopback
   needs even under valgrind; a wait ends as soon as its event comes. */
#define POLLS 300
#define POLL_MS 500

/* ------------------------------------------------------------------ helpers */

static const char *const LOOPBACK[] = {"127.0.0.1:0"};

static ScuttleNodeConfig config_for(ScuttleTransportKind transport) {
  ScuttleNodeConfig c;
  if (scuttle_node_config_default(&c) != SCUTTLE_OK) {
    abort();
  }
  c.transport = transport;
  c.listen = LOOPBACK;
  c.listen_len = 1;
  /* libp2p probes members every interval and suspects one that does not answer in half of
     it: 500 ms leaves room for valgrind's slowdown. (Tests still do not depend on it: they
     wait for states, they do not assert them at an instant.) */
  c.interval_ms = transport == SCUTTLE_TRANSPORT_TCP ? 100 : 500;
  return c;
}

static ScuttleNode *start(const ScuttleNodeConfig *c) {
  ScuttleNode *node = NULL;
  if (scuttle_node_start(c, &node) != SCUTTLE_OK || node == NULL) {
    fprintf(stderr, "scuttle_node_start: %s\n", scuttle_last_error());
    abort();
  }
  return node;
}

/* Starts a node on a free loopback port that joins `peers` (bootstrap for libp2p, peers for
   TCP). */
static ScuttleNode *start_joining(ScuttleTransportKind transport, const char *id,
                                  const ScuttleStrings *peers) {
  const char *addrs[16];
  size_t n = peers ? peers->len : 0;
  for (size_t i = 0; i < n && i < 16; i++) {
    addrs[i] = (const char *)peers->items[i].ptr;
  }
  ScuttleNodeConfig c = config_for(transport);
  if (transport == SCUTTLE_TRANSPORT_TCP) {
    c.id = id;
    c.peers = addrs;
    c.peers_len = n;
  } else {
    c.bootstrap = addrs;
    c.bootstrap_len = n;
  }
  return start(&c);
}

static int bytes_equal(const ScuttleBytes *b, const char *text) {
  return b->len == strlen(text) && (b->len == 0 || memcmp(b->ptr, text, b->len) == 0);
}

/* A copy of the node's id (the caller frees it). */
static char *id_of(ScuttleNode *node) {
  ScuttleBytes id;
  if (scuttle_node_id(node, &id) != SCUTTLE_OK) {
    abort();
  }
  char *copy = malloc(id.len + 1);
  memcpy(copy, id.ptr, id.len + 1);
  scuttle_bytes_free(&id);
  return copy;
}

/* Polls `node` until an UPDATE of `key` comes; 1 if it came, with `deleted` and the value
   checked against `value` (NULL: a delete) and the peer against `from`. */
static int wait_for_update(ScuttleNode *node, const char *key, const char *value,
                           const char *from) {
  for (int i = 0; i < POLLS; i++) {
    ScuttleNodeEvent ev;
    ScuttleStatus s = scuttle_node_poll_event(node, POLL_MS, &ev);
    if (s != SCUTTLE_OK && s != SCUTTLE_STATUS_EMPTY) {
      fprintf(stderr, "  poll: status %d: %s\n", (int)s, scuttle_last_error());
      return 0;
    }
    int match = s == SCUTTLE_OK && ev.kind == SCUTTLE_NODE_EVENT_UPDATE &&
                bytes_equal(&ev.key, key) && ev.deleted == (value == NULL);
    if (match) {
      EXPECT(value == NULL ? ev.value.ptr == NULL : bytes_equal(&ev.value, value));
      EXPECT(bytes_equal(&ev.peer, from));
    }
    scuttle_node_event_free(&ev);
    EXPECT(ev.key.ptr == NULL && ev.peer.ptr == NULL);
    if (match) {
      return 1;
    }
  }
  return 0;
}

/* Writes, retrying while a node that started empty catches up with its peers. */
static ScuttleStatus set_when_ready(ScuttleNode *node, const char *key, const char *value) {
  ScuttleStatus s = SCUTTLE_STATUS_CATCHING_UP;
  for (int i = 0; i < POLLS && s == SCUTTLE_STATUS_CATCHING_UP; i++) {
    s = scuttle_node_set(node, S(key), S(value), NULL);
    if (s == SCUTTLE_STATUS_CATCHING_UP) {
      ScuttleNodeEvent ev;
      scuttle_node_poll_event(node, 100, &ev); /* a pause */
      scuttle_node_event_free(&ev);
    }
  }
  return s;
}

/* Waits until `node` lists `id` as a member it is connected to (libp2p: SWIM may suspect a
   slow member for a while; the wait outlasts that). 1 if it did. */
static int wait_for_connected_member(ScuttleNode *node, const char *id) {
  for (int i = 0; i < POLLS; i++) {
    ScuttleMembers members;
    if (scuttle_node_members(node, &members) != SCUTTLE_OK) {
      return 0;
    }
    int found = 0;
    for (size_t m = 0; m < members.len; m++) {
      ScuttleLiveness state = members.items[m].state;
      EXPECT(state == SCUTTLE_LIVENESS_ALIVE || state == SCUTTLE_LIVENESS_SUSPECT ||
             state == SCUTTLE_LIVENESS_DOWN);
      found |= bytes_equal(&members.items[m].id, id) && members.items[m].connected;
    }
    scuttle_members_free(&members);
    EXPECT(members.items == NULL && members.len == 0);
    if (found) {
      return 1;
    }
    ScuttleNodeEvent ev;
    scuttle_node_poll_event(node, 100, &ev); /* a pause */
    scuttle_node_event_free(&ev);
  }
  return 0;
}

/* Waits until `node`'s connected peers are exactly `id`. 1 if they were. */
static int wait_for_only_peer(ScuttleNode *node, const char *id) {
  for (int i = 0; i < POLLS; i++) {
    ScuttleStrings peers;
    if (scuttle_node_peers(node, &peers) != SCUTTLE_OK) {
      return 0;
    }
    int only = peers.len == 1 && bytes_equal(&peers.items[0], id);
    scuttle_strings_free(&peers);
    if (only) {
      return 1;
    }
    ScuttleNodeEvent ev;
    scuttle_node_poll_event(node, 100, &ev); /* a pause */
    scuttle_node_event_free(&ev);
  }
  return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_config_default(void) {
  ScuttleNodeConfig c;
  memset(&c, 0xab, sizeof c);
  EXPECT_STATUS(scuttle_node_config_default(&c), SCUTTLE_OK);
  EXPECT(c.version == SCUTTLE_NODE_CONFIG_VERSION);
  EXPECT(c.transport == SCUTTLE_TRANSPORT_DEFAULT);
  EXPECT(c.id == NULL && c.listen == NULL && c.listen_len == 0 && c.bootstrap == NULL);
  EXPECT(c.peers == NULL && c.data_dir == NULL && c.cluster == NULL && c.api == NULL);
  EXPECT(c.interval_ms == 0 && c.toml == NULL);
  EXPECT_STATUS(scuttle_node_config_default(NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
}

/* Each mistake is refused with SCUTTLE_STATUS_INVALID_CONFIG, a message, and no node. */
static void test_bad_configs(void) {
  static const char not_utf8[] = {(char)0xff, (char)0xfe, 0};
  static const char *const bad_listen[] = {"nowhere"};
  struct {
    const char *mentions;
    ScuttleNodeConfig c;
  } cases[7];
  size_t n = 0;
  for (size_t i = 0; i < 7; i++) {
    cases[i].c = config_for(SCUTTLE_TRANSPORT_LIBP2P);
  }
  cases[n].mentions = "version";
  cases[n++].c.version = 99;
  cases[n].mentions = "transport";
  cases[n++].c.transport = 7;
  cases[n].mentions = "fanot";
  cases[n++].c.toml = "fanot = 3";
  cases[n].mentions = "nope";
  cases[n++].c.toml = "resolver = \"nope\"";
  cases[n].mentions = "cluster is not UTF-8";
  cases[n++].c.cluster = not_utf8;
  cases[n].mentions = "libp2p";
  cases[n++].c.id = "a";
  cases[n].mentions = "nowhere";
  cases[n++].c.listen = bad_listen;
  for (size_t i = 0; i < n; i++) {
    ScuttleNode *node = (ScuttleNode *)&node; /* not NULL: the call must clear it */
    EXPECT_STATUS(scuttle_node_start(&cases[i].c, &node), SCUTTLE_STATUS_INVALID_CONFIG);
    EXPECT_ERROR_MENTIONS(cases[i].mentions);
    EXPECT(node == NULL);
  }
  ScuttleNodeConfig c = config_for(SCUTTLE_TRANSPORT_TCP);
  EXPECT_STATUS(scuttle_node_start(&c, NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  c.listen = NULL; /* with listen_len 1 */
  ScuttleNode *node = NULL;
  EXPECT_STATUS(scuttle_node_start(&c, &node), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(node == NULL);
}

static void test_address_in_use(void) {
  ScuttleNodeConfig c = config_for(SCUTTLE_TRANSPORT_TCP);
  ScuttleNode *a = start(&c);
  ScuttleStrings addrs;
  EXPECT_STATUS(scuttle_node_listen_addrs(a, &addrs), SCUTTLE_OK);
  EXPECT(addrs.len == 1);
  const char *taken[] = {(const char *)addrs.items[0].ptr};
  c.listen = taken;
  ScuttleNode *b = NULL;
  EXPECT_STATUS(scuttle_node_start(&c, &b), SCUTTLE_STATUS_NETWORK);
  EXPECT(b == NULL);
  scuttle_strings_free(&addrs);
  scuttle_node_stop(a);
}

static void test_null_arguments(void) {
  ScuttleEntry entry;
  ScuttleNodeEvent ev;
  ScuttleMembers members;
  ScuttleStrings strings;
  ScuttleBytes bytes;
  EXPECT_STATUS(scuttle_node_set(NULL, S("k"), S("v"), NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("node is NULL");
  EXPECT_STATUS(scuttle_node_delete(NULL, S("k"), NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_node_get(NULL, S("k"), &entry), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT(entry.value.ptr == NULL); /* zeroed before the node is checked */
  EXPECT_STATUS(scuttle_node_poll_event(NULL, 0, &ev), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_node_members(NULL, &members), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_node_peers(NULL, &strings), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_node_listen_addrs(NULL, &strings), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_node_id(NULL, &bytes), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(scuttle_node_api_addr(NULL, &bytes), SCUTTLE_STATUS_INVALID_ARGUMENT);
  /* NULL and zeroed outputs are accepted by every free function; stop accepts NULL. */
  scuttle_node_stop(NULL);
  scuttle_node_event_free(NULL);
  scuttle_members_free(NULL);
  scuttle_strings_free(NULL);
  scuttle_node_event_free(&ev);
  scuttle_members_free(&members);
  scuttle_strings_free(&strings);
  scuttle_entry_free(&entry);
}

/* The whole story on one transport: write, event, get, delete, members, peers, stop. */
static void two_nodes(ScuttleTransportKind transport) {
  ScuttleNode *a = start_joining(transport, "a", NULL);
  ScuttleStrings a_addrs;
  EXPECT_STATUS(scuttle_node_listen_addrs(a, &a_addrs), SCUTTLE_OK);
  EXPECT(a_addrs.len >= 1); /* libp2p: TCP and QUIC */
  ScuttleNode *b = start_joining(transport, "b", &a_addrs);
  scuttle_strings_free(&a_addrs);
  char *a_id = id_of(a), *b_id = id_of(b);
  EXPECT(strcmp(a_id, b_id) != 0);
  if (transport == SCUTTLE_TRANSPORT_TCP) {
    EXPECT(strcmp(a_id, "a") == 0);
  }

  EXPECT_STATUS(set_when_ready(a, "colour", "blue"), SCUTTLE_OK);
  EXPECT(wait_for_update(b, "colour", "blue", a_id));

  ScuttleEntry entry;
  EXPECT_STATUS(scuttle_node_get(b, S("colour"), &entry), SCUTTLE_OK);
  EXPECT(bytes_equal(&entry.value, "blue") && !entry.deleted);
  EXPECT(bytes_equal(&entry.source_id, a_id) && entry.version > 0);
  scuttle_entry_free(&entry);
  EXPECT_STATUS(scuttle_node_get(b, S("missing"), &entry), SCUTTLE_STATUS_NOT_FOUND);
  EXPECT(entry.value.ptr == NULL && entry.source_id.ptr == NULL);

  /* Keys and values are text at the node level: other bytes are refused. */
  static const uint8_t bad[] = {0xff, 0xfe};
  EXPECT_STATUS(scuttle_node_set(a, bad, 2, S("v"), NULL), SCUTTLE_STATUS_INVALID_ARGUMENT);
  EXPECT_ERROR_MENTIONS("not UTF-8");
  EXPECT_STATUS(scuttle_node_get(b, bad, 2, &entry), SCUTTLE_STATUS_INVALID_ARGUMENT);

  uint64_t version = 0;
  EXPECT_STATUS(scuttle_node_delete(a, S("colour"), &version), SCUTTLE_OK);
  EXPECT(version > 0);
  EXPECT(wait_for_update(b, "colour", NULL, a_id));
  EXPECT_STATUS(scuttle_node_get(b, S("colour"), &entry), SCUTTLE_STATUS_DELETED);
  EXPECT(entry.deleted && entry.version == version && entry.value.ptr == NULL);
  scuttle_entry_free(&entry);

  EXPECT(wait_for_connected_member(b, a_id));
  EXPECT(wait_for_connected_member(a, b_id));
  EXPECT(wait_for_only_peer(b, a_id));

  ScuttleBytes api;
  EXPECT_STATUS(scuttle_node_api_addr(a, &api), SCUTTLE_STATUS_NOT_FOUND);
  EXPECT(api.ptr == NULL);

  free(a_id);
  free(b_id);
  scuttle_node_stop(b);
  scuttle_node_stop(a);
}

static void test_two_nodes_libp2p(void) { two_nodes(SCUTTLE_TRANSPORT_LIBP2P); }

static void test_two_nodes_tcp(void) { two_nodes(SCUTTLE_TRANSPORT_TCP); }

static void test_api_and_toml(void) {
  ScuttleNodeConfig c = config_for(SCUTTLE_TRANSPORT_LIBP2P);
  c.api = "127.0.0.1:0";
  c.cluster = "blue";
  c.toml = "resolver = \"strict\"\nfanout = 2";
  ScuttleNode *node = start(&c);
  ScuttleBytes api;
  EXPECT_STATUS(scuttle_node_api_addr(node, &api), SCUTTLE_OK);
  EXPECT(api.len > strlen("127.0.0.1:") && strncmp((const char *)api.ptr, "127.0.0.1:", 10) == 0);
  scuttle_bytes_free(&api);
  /* The strict resolver from the TOML text: values only grow. */
  EXPECT_STATUS(scuttle_node_set(node, S("k"), S("b"), NULL), SCUTTLE_OK);
  EXPECT_STATUS(scuttle_node_set(node, S("k"), S("a"), NULL), SCUTTLE_STATUS_REJECTED);
  EXPECT_ERROR_MENTIONS("refused");
  scuttle_node_stop(node);
}

/* Several threads use one node at once: every write lands. */
#define WRITERS 4
#define WRITES 10

typedef struct Writer {
  ScuttleNode *node;
  int index;
  int failures;
} Writer;

static void *write_keys(void *arg) {
  Writer *w = arg;
  for (int i = 0; i < WRITES; i++) {
    char key[32];
    snprintf(key, sizeof key, "w%d-%d", w->index, i);
    if (scuttle_node_set(w->node, S(key), S("x"), NULL) != SCUTTLE_OK) {
      w->failures++;
    }
  }
  return NULL;
}

static void test_threads_share_a_node(void) {
  ScuttleNodeConfig c = config_for(SCUTTLE_TRANSPORT_LIBP2P);
  ScuttleNode *node = start(&c);
  pthread_t threads[WRITERS];
  Writer writers[WRITERS];
  for (int t = 0; t < WRITERS; t++) {
    writers[t] = (Writer){node, t, 0};
    EXPECT(pthread_create(&threads[t], NULL, write_keys, &writers[t]) == 0);
  }
  for (int t = 0; t < WRITERS; t++) {
    pthread_join(threads[t], NULL);
    EXPECT(writers[t].failures == 0);
  }
  for (int t = 0; t < WRITERS; t++) {
    for (int i = 0; i < WRITES; i++) {
      char key[32];
      snprintf(key, sizeof key, "w%d-%d", t, i);
      ScuttleEntry entry;
      EXPECT_STATUS(scuttle_node_get(node, S(key), &entry), SCUTTLE_OK);
      scuttle_entry_free(&entry);
    }
  }
  scuttle_node_stop(node);
}

/* ------------------------------------------------------------------ runner */

typedef struct Test {
  const char *name;
  void (*run)(void);
} Test;

#define TEST(f) {#f, f}

int main(void) {
  const Test tests[] = {
      TEST(test_config_default),
      TEST(test_bad_configs),
      TEST(test_address_in_use),
      TEST(test_null_arguments),
      TEST(test_two_nodes_libp2p),
      TEST(test_two_nodes_tcp),
      TEST(test_api_and_toml),
      TEST(test_threads_share_a_node),
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
    fflush(stdout);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
