/*
 * two_nodes.c: two scuttle nodes exchanging CBOR frames in memory until they converge.
 *
 * Build against the installed library (`make -C bindings/c install`, see docs/c.md):
 *   cc -Wall -Wextra -Werror bindings/c/examples/two_nodes.c \
 *      $(pkg-config --cflags --libs scuttle) -o two_nodes
 *   ./two_nodes
 *
 * An exchange is at most three frames: the initiator's Syn (scuttle_gossip_start_exchange),
 * the peer's reply and the initiator's reply to that (each from scuttle_gossip_handle_frame).
 * A real program sends each frame over its transport (TCP, UDP, a message bus) to the peer
 * instead of calling scuttle_gossip_handle_frame() directly; everything else stays the same.
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

typedef struct Node {
  const char *name;
  ScuttleGossip *gossip;
} Node;

/* Prints the updates `node` got from `peer`'s last frame. */
static void print_events(Node *node, Node *peer) {
  ScuttleEvent ev;
  while (scuttle_gossip_poll_event(node->gossip, &ev) == SCUTTLE_OK) {
    if (ev.kind == SCUTTLE_EVENT_UPDATE && !ev.local) {
      printf("%s: event: %s %s%s%s (version %llu, written by %s, delivered by %s)\n",
             node->name, ev.deleted ? "deleted" : "updated", (const char *)ev.key.ptr,
             ev.deleted ? "" : " = ", ev.deleted ? "" : (const char *)ev.value.ptr,
             (unsigned long long)ev.version, (const char *)ev.source_id.ptr, peer->name);
    }
    scuttle_event_free(&ev);
  }
}

/* One exchange started by `from` with `to`: each frame goes to the other node, whose reply
 * comes back, until a node has nothing to reply. Returns the number of frames. */
static size_t run_exchange(Node *from, Node *to) {
  Node *sender = from, *receiver = to;
  ScuttleBytes frame, reply;
  size_t frames = 1;
  CHECK(scuttle_gossip_start_exchange(from->gossip, &frame));
  for (;;) {
    /* "Send" the frame: the receiver handles it and gives its reply for the sender. */
    CHECK(scuttle_gossip_handle_frame(receiver->gossip, scuttle_now_ms(), frame.ptr, frame.len,
                                      &reply));
    scuttle_bytes_free(&frame);
    print_events(receiver, sender);
    if (reply.ptr == NULL) {
      return frames; /* the exchange is over */
    }
    frame = reply;
    frames++;
    Node *swap = sender;
    sender = receiver;
    receiver = swap;
  }
}

static void set(Node *node, const char *key, const char *value) {
  uint64_t version = 0;
  CHECK(scuttle_gossip_set(node->gossip, scuttle_now_ms(), (const uint8_t *)key, strlen(key),
                           (const uint8_t *)value, strlen(value), &version));
  printf("%s: set %s = %s (version %llu)\n", node->name, key, value,
         (unsigned long long)version);
}

/* Prints a node's live keys and values. */
static void dump(Node *node) {
  ScuttleKeys *keys = NULL;
  size_t n = 0;
  uint64_t version = 0;
  CHECK(scuttle_gossip_keys(node->gossip, &keys));
  CHECK(scuttle_keys_len(keys, &n));
  CHECK(scuttle_gossip_version(node->gossip, &version));
  printf("%s (version %llu, %zu keys):", node->name, (unsigned long long)version, n);
  for (size_t i = 0; i < n; i++) {
    const uint8_t *key = NULL;
    size_t key_len = 0;
    ScuttleEntry entry;
    CHECK(scuttle_keys_get(keys, i, &key, &key_len));
    CHECK(scuttle_gossip_get(node->gossip, key, key_len, &entry));
    printf(" %s=%s", (const char *)key, (const char *)entry.value.ptr);
    scuttle_entry_free(&entry);
  }
  printf("\n");
  scuttle_keys_free(keys);
}

/* Whether both nodes have seen the same versions and hold the same live keys and values. */
static int same_state(Node *a, Node *b) {
  ScuttleKeys *keys = NULL;
  size_t n = 0, len_b = 0;
  uint64_t version_a = 0, version_b = 0;
  int same = 1;
  CHECK(scuttle_gossip_version(a->gossip, &version_a));
  CHECK(scuttle_gossip_version(b->gossip, &version_b));
  CHECK(scuttle_gossip_keys(a->gossip, &keys));
  CHECK(scuttle_keys_len(keys, &n));
  CHECK(scuttle_gossip_len(b->gossip, &len_b));
  if (n != len_b || version_a != version_b) {
    same = 0;
  }
  for (size_t i = 0; same && i < n; i++) {
    const uint8_t *key = NULL;
    size_t key_len = 0;
    ScuttleEntry ea, eb;
    CHECK(scuttle_keys_get(keys, i, &key, &key_len));
    CHECK(scuttle_gossip_get(a->gossip, key, key_len, &ea));
    if (scuttle_gossip_get(b->gossip, key, key_len, &eb) != SCUTTLE_OK ||
        ea.value.len != eb.value.len || ea.version != eb.version ||
        (ea.value.len > 0 && memcmp(ea.value.ptr, eb.value.ptr, ea.value.len) != 0)) {
      same = 0;
    }
    scuttle_entry_free(&ea);
    scuttle_entry_free(&eb);
  }
  scuttle_keys_free(keys);
  return same;
}

int main(void) {
  ScuttleConfig config;
  CHECK(scuttle_config_default(&config));
  config.mtu = 2; /* small, so the exchange needs several rounds */

  Node nodes[2] = {{"alice", NULL}, {"bob", NULL}};
  for (size_t i = 0; i < 2; i++) {
    CHECK(scuttle_gossip_new((const uint8_t *)nodes[i].name, strlen(nodes[i].name), &config,
                             &nodes[i].gossip));
  }
  Node *alice = &nodes[0], *bob = &nodes[1];

  set(alice, "color", "red");
  set(alice, "size", "large");
  set(alice, "shape", "circle");
  set(bob, "color", "blue"); /* concurrent write: the higher (version, source id) wins */
  set(bob, "owner", "bob");
  CHECK(scuttle_gossip_delete(alice->gossip, scuttle_now_ms(), (const uint8_t *)"shape", 5, NULL));
  printf("alice: deleted shape\n");

  int rounds = 0;
  while (!same_state(alice, bob)) {
    if (++rounds > 10) {
      fprintf(stderr, "did not converge in 10 rounds\n");
      return 1;
    }
    /* Take turns starting the exchange, as a periodic gossip timer would. */
    Node *from = rounds % 2 ? alice : bob;
    Node *to = rounds % 2 ? bob : alice;
    size_t frames = run_exchange(from, to);
    printf("round %d: %s started an exchange with %s, %zu frames\n", rounds, from->name,
           to->name, frames);
  }

  dump(alice);
  dump(bob);
  ScuttleEntry shape;
  ScuttleStatus s = scuttle_gossip_get(bob->gossip, (const uint8_t *)"shape", 5, &shape);
  scuttle_entry_free(&shape);
  if (s != SCUTTLE_STATUS_DELETED) {
    fprintf(stderr, "bob should have seen the delete of shape (status %d)\n", (int)s);
    return 1;
  }
  printf("converged after %d rounds\n", rounds);

  /* The tombstone of shape is collected an hour (tombstone_grace_ms) after the delete. */
  uint64_t when = 0;
  if (scuttle_gossip_poll_timeout(bob->gossip, &when) != SCUTTLE_OK) {
    fprintf(stderr, "bob should hold a tombstone to collect\n");
    return 1;
  }
  size_t collected = 0;
  CHECK(scuttle_gossip_handle_timeout(bob->gossip, when, &collected));
  printf("bob: collected %zu tombstone(s) at the end of the grace period\n", collected);

  for (size_t i = 0; i < 2; i++) {
    scuttle_gossip_free(nodes[i].gossip);
  }
  return 0;
}
