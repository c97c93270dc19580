// The automerge-repo sync server (@automerge/automerge-repo-sync-server 0.2.8, src/server.js) on
// the latest automerge-repo and automerge: the published server pins automerge-repo ^1.2.0.
// The same Repo configuration as that server's (WebSocket server adapter, file-system storage
// in DATA_DIR, the peer id `storage-server-<host name>`, a share policy that announces
// nothing); a plain HTTP server takes the WebSocket upgrades where that one uses express, whose
// only other work is a greeting on `/` and static files.

import fs from "node:fs"
import http from "node:http"
import os from "node:os"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { WebSocketServer } from "ws"

const dir = process.env.DATA_DIR !== undefined ? process.env.DATA_DIR : ".amrg"
if (!fs.existsSync(dir)) fs.mkdirSync(dir)
const PORT = process.env.PORT !== undefined ? parseInt(process.env.PORT) : 3030

const socket = new WebSocketServer({ noServer: true })
new Repo({
  network: [new WebSocketServerAdapter(socket)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: `storage-server-${os.hostname()}`,
  sharePolicy: async () => false,
})

const server = http.createServer((req, res) => {
  res.end("👍 @automerge/automerge-repo-sync-server is running")
})
server.on("upgrade", (request, stream, head) => {
  socket.handleUpgrade(request, stream, head, ws => socket.emit("connection", ws, request))
})
server.listen(PORT, () => console.log(`Listening on port ${PORT}`))
