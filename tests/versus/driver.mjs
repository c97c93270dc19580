// Load generator for the automerge-repo sync server, driven by `cargo bench -p reguide-tests
// --bench versus`: the same families, documents and changes as the reguide run, read from the
// workload folder the bench wrote.
//
// Each family is one client with a WebSocket of its own. It speaks the sync server's protocol
// as automerge-repo's `BrowserWebSocketClientAdapter` and `DocSynchronizer` do (CBOR messages:
// `join`, the server's `peer`, then `sync` messages carrying Automerge sync messages made with
// `generateSyncMessage` / `receiveSyncMessage`), without automerge-repo's 100 ms throttle
// before a change is sent, so that a latency is the server's and the network's, not a timer's.
//
// One sync: the client applies the change's bytes to its document (`loadIncremental`) and
// syncs until a message of the server reports heads that contain the change, i.e. the server
// has applied it. Every message either side has to send is sent and answered on the way.
//
// Usage: node driver.mjs <workload folder> <ws://host:port>. Talks to the bench over stdin and
// stdout, one line each: prints `setup {...}` once the server holds every document, then runs
// a phase for each line it reads (`closed`, `paced`), printing `<phase> {...}` with the
// figures, and exits on `exit`.

import { readFileSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { next as A } from "@automerge/automerge"
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo"
import { decode, encode } from "cbor-x"
import WebSocket from "ws"

const [folder, url] = process.argv.slice(2)
if (!folder || !url) {
  console.error("usage: node driver.mjs <workload folder> <ws://host:port>")
  process.exit(2)
}
const manifest = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8"))

/** One family's device: its document, its connection and its sync state with the server. */
class Client {
  constructor(index) {
    this.index = index
    this.peerId = `reguide-versus-${index}-${Math.random().toString(36).slice(2)}`
    this.documentId = parseAutomergeUrl(generateAutomergeUrl()).documentId
    this.doc = A.load(readFileSync(join(folder, `doc-${index}.bin`)))
    this.changes = []
    for (let k = 0; k < manifest.changes; k++) {
      const bytes = readFileSync(join(folder, `change-${index}-${k}.bin`))
      this.changes.push({ bytes: new Uint8Array(bytes), hash: A.decodeChange(bytes).hash })
    }
    this.syncState = A.initSyncState()
    this.serverHeads = new Set()
    this.waiting = null
    this.sent = 0
    this.received = 0
    this.bytesSent = 0
    this.bytesReceived = 0
  }

  /** Opens the WebSocket and joins, as automerge-repo's client adapter does. */
  async connect() {
    this.socket = new WebSocket(url)
    this.socket.binaryType = "nodebuffer"
    await new Promise((resolve, reject) => {
      this.socket.once("open", resolve)
      this.socket.once("error", reject)
    })
    const joined = new Promise((resolve, reject) => {
      this.onPeer = resolve
      this.socket.once("close", () => reject(new Error(`client ${this.index}: closed`)))
    })
    this.socket.on("message", data => this.receive(data))
    this.send({
      type: "join",
      senderId: this.peerId,
      peerMetadata: { isEphemeral: true },
      supportedProtocolVersions: ["1"],
    })
    await joined
  }

  send(message) {
    const bytes = encode(message)
    this.sent += 1
    this.bytesSent += bytes.byteLength
    this.socket.send(bytes)
  }

  receive(data) {
    this.received += 1
    this.bytesReceived += data.byteLength
    const message = decode(data)
    switch (message.type) {
      case "peer":
        this.serverId = message.senderId
        this.onPeer()
        return
      case "sync": {
        const [doc, state] = A.receiveSyncMessage(this.doc, this.syncState, message.data)
        this.doc = doc
        this.syncState = state
        this.serverHeads = new Set(A.decodeSyncMessage(message.data).heads)
        this.flush()
        if (this.waiting && this.waiting.hashes.every(h => this.serverHeads.has(h))) {
          const { resolve } = this.waiting
          this.waiting = null
          resolve()
        }
        return
      }
      default:
        console.error(`client ${this.index}: unexpected ${message.type}: ${JSON.stringify(message)}`)
        process.exit(1)
    }
  }

  /** Sends the sync message Automerge has for the server, if any. */
  flush() {
    const [state, data] = A.generateSyncMessage(this.doc, this.syncState)
    this.syncState = state
    if (data) {
      this.send({
        type: "sync",
        senderId: this.peerId,
        targetId: this.serverId,
        documentId: this.documentId,
        data,
      })
    }
  }

  /** Resolves once a message of the server reports heads containing every hash. */
  until(hashes) {
    if (hashes.every(h => this.serverHeads.has(h))) return Promise.resolve()
    return new Promise(resolve => {
      this.waiting = { hashes, resolve }
    })
  }

  /** Gives the server this family's document and waits until it holds it. */
  async upload() {
    const heads = A.getHeads(this.doc)
    const done = this.until(heads)
    this.flush()
    await done
  }

  /** One sync: applies change `k` and waits until the server has it; returns milliseconds. */
  async sync(k) {
    const { bytes, hash } = this.changes[k]
    const started = performance.now()
    this.doc = A.loadIncremental(this.doc, bytes)
    const done = this.until([hash])
    this.flush()
    await done
    return performance.now() - started
  }
}

const clients = []
for (let i = 0; i < manifest.devices; i++) clients.push(new Client(i))

function totals() {
  const sum = f => clients.reduce((n, c) => n + c[f], 0)
  return {
    messages_sent: sum("sent"),
    messages_received: sum("received"),
    bytes_sent: sum("bytesSent"),
    bytes_received: sum("bytesReceived"),
  }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Runs changes [from, to) of every client; `every` ms apart per client when paced. */
async function phase(from, to, every) {
  const before = totals()
  const latencies = []
  const started = performance.now()
  await Promise.all(
    clients.map(async (client, i) => {
      let next = started + (every ? (every * i) / clients.length : 0)
      for (let k = from; k < to; k++) {
        if (every) {
          const wait = next - performance.now()
          if (wait > 0) await sleep(wait)
          next += every
        }
        latencies.push(await client.sync(k))
      }
    }),
  )
  const wall = performance.now() - started
  const after = totals()
  const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]))
  return { syncs: latencies.length, wall_ms: wall, latencies_us: latencies.map(ms => Math.round(ms * 1000)), ...delta }
}

const started = performance.now()
// Connections and uploads a few dozen at a time, as phones come online.
for (let i = 0; i < clients.length; i += 20) {
  await Promise.all(clients.slice(i, i + 20).map(async c => {
    await c.connect()
    await c.upload()
  }))
}
console.log(`setup ${JSON.stringify({ wall_ms: performance.now() - started, ...totals() })}`)

const { closed, paced, paced_every_ms } = manifest
for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim()
  if (command === "closed") {
    console.log(`closed ${JSON.stringify(await phase(0, closed, 0))}`)
  } else if (command === "paced") {
    console.log(`paced ${JSON.stringify(await phase(closed, closed + paced, paced_every_ms))}`)
  } else if (command === "exit") {
    break
  }
}
for (const client of clients) client.socket.close()
process.exit(0)
