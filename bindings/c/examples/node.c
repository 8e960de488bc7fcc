/*
 * node.c: two networked scuttle nodes on loopback. A write on one reaches the other, which
 * reports it as an event; then both stop.
 *
 * Build against the installed library (`make -C bindings/c install`, see docs/c.md):
 *   cc -Wall -Wextra -Werror bindings/c/examples/node.c \
 *      $(pkg-config --cflags --libs scuttle) -o node
 *   ./node           # libp2p (the default transport)
 *   ./node tcp       # the plain TCP transport
 *
 * The library runs each node on threads of its own: it listens, dials and gossips without the
 * program's help. The program only writes, reads and polls events, from any thread it likes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scuttle.h"

#define CHECK(call)                                                                    \
  do {                                                                                 \
    ScuttleStatus status_ = (call);                                                    \
    if (status_ != SCUTTLE_OK) {                                                       \
      fprintf(stderr, "%s:%d: %s failed with status %d: %s\n", __FILE__, __LINE__,     \
              #call, (int)status_, scuttle_last_error());                              \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

/* Starts a node listening on a free loopback port, joining the nodes at `peers`. */
static ScuttleNode *start_node(ScuttleTransportKind transport, const char *id,
                               const ScuttleStrings *peers) {
  static const char *const listen[] = {"127.0.0.1:0"};
  const char *peer_addrs[8];
  size_t n = peers ? peers->len : 0;
  if (n > 8) {
    n = 8;
  }
  for (size_t i = 0; i < n; i++) {
    peer_addrs[i] = (const char *)peers->items[i].ptr;
  }

  ScuttleNodeConfig config;
  CHECK(scuttle_node_config_default(&config));
  config.transport = transport;
  config.listen = listen;
  config.listen_len = 1;
  config.interval_ms = 500; /* gossip round and membership probe period */
  if (transport == SCUTTLE_TRANSPORT_TCP) {
    config.id = id; /* libp2p nodes are named by their key's peer id */
    config.peers = peer_addrs;
    config.peers_len = n;
  } else {
    config.bootstrap = peer_addrs;
    config.bootstrap_len = n;
  }

  ScuttleNode *node = NULL;
  CHECK(scuttle_node_start(&config, &node));
  ScuttleBytes node_id;
  CHECK(scuttle_node_id(node, &node_id));
  printf("%s: started as %s\n", id, (const char *)node_id.ptr);
  scuttle_bytes_free(&node_id);
  return node;
}

int main(int argc, char **argv) {
  ScuttleTransportKind transport = SCUTTLE_TRANSPORT_LIBP2P;
  if (argc > 1 && strcmp(argv[1], "tcp") == 0) {
    transport = SCUTTLE_TRANSPORT_TCP;
  }

  ScuttleNode *a = start_node(transport, "a", NULL);
  ScuttleStrings a_addrs;
  CHECK(scuttle_node_listen_addrs(a, &a_addrs));
  ScuttleNode *b = start_node(transport, "b", &a_addrs);
  scuttle_strings_free(&a_addrs);

  /* Write on a. A TCP node that started without a data dir first catches up with a peer
     (SCUTTLE_STATUS_CATCHING_UP); try again until it takes the write. */
  const char *key = "greeting", *value = "hello";
  uint64_t version = 0;
  ScuttleStatus status;
  ScuttleNodeEvent ev;
  while ((status = scuttle_node_set(a, (const uint8_t *)key, strlen(key),
                                    (const uint8_t *)value, strlen(value), &version)) ==
         SCUTTLE_STATUS_CATCHING_UP) {
    scuttle_node_poll_event(a, 200, &ev); /* a pause that also drains a's events */
    scuttle_node_event_free(&ev);
  }
  CHECK(status);
  printf("a: set %s = %s (version %llu)\n", key, value, (unsigned long long)version);

  /* Wait on b until the update arrives (each poll waits up to one second). */
  int seen = 0;
  for (int i = 0; i < 120 && !seen; i++) {
    status = scuttle_node_poll_event(b, 1000, &ev);
    if (status == SCUTTLE_OK && ev.kind == SCUTTLE_NODE_EVENT_UPDATE) {
      printf("b: event: %s = %s (from %s)\n", (const char *)ev.key.ptr,
             ev.deleted ? "(deleted)" : (const char *)ev.value.ptr, (const char *)ev.peer.ptr);
      seen = ev.key.len == strlen(key) && memcmp(ev.key.ptr, key, ev.key.len) == 0;
    } else if (status == SCUTTLE_OK && ev.kind == SCUTTLE_NODE_EVENT_PEER_CONNECTED) {
      printf("b: connected to %s\n", (const char *)ev.peer.ptr);
    } else if (status != SCUTTLE_OK && status != SCUTTLE_STATUS_EMPTY) {
      CHECK(status);
    }
    scuttle_node_event_free(&ev);
  }
  if (!seen) {
    fprintf(stderr, "b never saw the write\n");
    return 1;
  }

  ScuttleEntry entry;
  CHECK(scuttle_node_get(b, (const uint8_t *)key, strlen(key), &entry));
  printf("b: get %s = %s (version %llu, written by %s)\n", key, (const char *)entry.value.ptr,
         (unsigned long long)entry.version, (const char *)entry.source_id.ptr);
  scuttle_entry_free(&entry);

  ScuttleMembers members;
  CHECK(scuttle_node_members(b, &members));
  for (size_t i = 0; i < members.len; i++) {
    printf("b: member %s%s\n", (const char *)members.items[i].id.ptr,
           members.items[i].connected ? " (connected)" : "");
  }
  scuttle_members_free(&members);

  scuttle_node_stop(b);
  scuttle_node_stop(a);
  return 0;
}
