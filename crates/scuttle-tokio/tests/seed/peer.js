// The seed's JavaScript Gossip (simple-scuttle 3.0.2) as a peer of a scuttle node, over
// stdin/stdout, one JSON object per line. Run by tests/json_interop.rs:
//
//   NODE_PATH=<node_modules with vector-clock-class> node peer.js SEED_DIR PROTOCOL_VERSION \
//       ID SET_KEY SET_VALUE EXPECT_KEY EXPECT_VALUE INTERVAL_MS
//
// It sends scuttle's hello, checks the node's, writes SET_KEY = SET_VALUE, gossips (sends its
// digest) every INTERVAL_MS, writes "converged" on stderr once it holds EXPECT_KEY =
// EXPECT_VALUE, and exits when its stdin closes. The seed's objects go on the wire unchanged:
// the seed's code names a digest entry's source `id` (its README says `source_id`); scuttle
// reads either and writes both.
'use strict'

const path = require('path')
const readline = require('readline')

const [seedDir, protocol, id, setKey, setValue, expectKey, expectValue, interval] =
  process.argv.slice(2)
const Gossip = require(path.join(seedDir, 'lib', 'gossip'))
const base = require(path.join(seedDir, 'lib', 'base'))

const config = Object.create(base.config)
config.resolve = base.resolution.lww_vs_current_vers
const gossip = new Gossip(id, config)

function send(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

gossip.on('data', send)

let converged = false
gossip.on('state', () => {
  if (!converged && gossip.get(expectKey).value === expectValue) {
    converged = true
    process.stderr.write('converged\n')
  }
})

send({ protocol_version: Number(protocol), node_id: id })

let hello = null
let timer = null
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  if (!line.trim()) {
    return
  }
  const obj = JSON.parse(line)
  if (hello === null) {
    hello = obj
    if (obj.protocol_version !== Number(protocol)) {
      process.stderr.write('unexpected hello: ' + line + '\n')
      process.exit(2)
    }
    process.stderr.write('hello from ' + obj.node_id + '\n')
    gossip.set(setKey, setValue)
    timer = setInterval(() => gossip.gossip(), Number(interval))
    return
  }
  gossip.write(obj)
})
lines.on('close', () => {
  clearInterval(timer)
  process.exit(0)
})
