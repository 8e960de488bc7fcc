// The seed's JavaScript nodes of one mixed cluster (simple-scuttle 3.0.2, unchanged), run by
// tests/seed_clusters.rs:
//
//   NODE_PATH=<node_modules with vector-clock-class> node cluster.js SEED_DIR SPEC
//
// SPEC is JSON: {"mtu": 3, "max_history": 10, "js": ["A", "C"], "scuttle": {"B": 7401},
// "edges": [["A", "B"], ...]}. Links between two JS nodes are the seed's own
// `A.pipe(B).pipe(A)`; a link to a scuttle node is a TCP connection to its port carrying the
// seed's objects, one JSON line each, both ways (a JS node's output goes to every link, as a
// pipe does). Once connected it prints {"ready": true}; then it reads commands on stdin, one
// JSON line each:
//
//   {"op": "set", "node": "A", "key": 3, "value": "c"}   gossip.set(key, value)
//   {"op": "gossip"}                                     gossip() on every JS node
//   {"op": "dump"}                                       prints {"dump": {"A": {key: value}}}
//
// A key whose value is undefined (a delete) is left out of the dump. It exits when stdin
// closes.
'use strict'

const net = require('net')
const path = require('path')
const readline = require('readline')
const { Transform } = require('stream')

const [seedDir, specText] = process.argv.slice(2)
const spec = JSON.parse(specText)
const gossipModule = path.join(seedDir, 'lib', 'gossip')
const base = require(path.join(seedDir, 'lib', 'base'))

// Each node gets its own copy of the seed's gossip module, as if it ran in its own process:
// the module keeps the digest sources seen so far (`sofar`) in one global that every Gossip of
// a process shares, so nodes of one process that read digests at the same time mix them up
// and skip news (a seed bug, see docs/interop.md; CLUSTER_SHARED_MODULE=1 keeps it).
function freshGossip() {
  if (!process.env.CLUSTER_SHARED_MODULE) {
    delete require.cache[require.resolve(gossipModule)]
  }
  return require(gossipModule)
}

const config = Object.create(base.config)
config.mtu = spec.mtu
config.max_history = spec.max_history
config.resolve = base.resolution.lww_vs_current_vers

const nodes = {}
for (const id of spec.js) {
  const Gossip = freshGossip()
  nodes[id] = new Gossip(id, config)
  if (process.env.CLUSTER_TRACE) {
    nodes[id].on('data', (obj) => process.stderr.write(id + ' > ' + JSON.stringify(obj) + '\n'))
  }
}

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// One TCP link from a JS node to a scuttle node.
function linkToScuttle(gossip, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve())
    socket.setNoDelay(true)
    socket.on('error', (e) => {
      process.stderr.write('link ' + gossip.id + ' -> ' + port + ': ' + e.message + '\n')
      reject(e)
    })
    const lines = new Transform({
      writableObjectMode: true,
      transform(obj, _enc, done) {
        done(null, JSON.stringify(obj) + '\n')
      },
    })
    gossip.pipe(lines).pipe(socket)
    readline.createInterface({ input: socket }).on('line', (line) => {
      if (line.trim()) {
        gossip.write(JSON.parse(line))
      }
    })
  })
}

async function main() {
  const links = []
  for (const [a, b] of spec.edges) {
    if (nodes[a] && nodes[b]) {
      nodes[a].pipe(nodes[b]).pipe(nodes[a])
    } else if (nodes[a]) {
      links.push(linkToScuttle(nodes[a], spec.scuttle[b]))
    } else if (nodes[b]) {
      links.push(linkToScuttle(nodes[b], spec.scuttle[a]))
    }
  }
  await Promise.all(links)
  print({ ready: true })

  const commands = readline.createInterface({ input: process.stdin })
  commands.on('line', (line) => {
    if (!line.trim()) {
      return
    }
    const cmd = JSON.parse(line)
    if (cmd.op === 'set') {
      nodes[cmd.node].set(cmd.key, cmd.value === null ? undefined : cmd.value)
    } else if (cmd.op === 'gossip') {
      for (const id of spec.js) {
        nodes[id].gossip()
      }
    } else if (cmd.op === 'dump') {
      const dump = {}
      for (const id of spec.js) {
        dump[id] = {}
        for (const key of Object.keys(nodes[id].state)) {
          const value = nodes[id].state[key].value
          if (value !== undefined) {
            dump[id][key] = value
          }
        }
      }
      print({ dump })
    }
  })
  commands.on('close', () => process.exit(0))
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack) + '\n')
  process.exit(1)
})
