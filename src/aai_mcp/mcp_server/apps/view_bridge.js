// The MCP Apps view protocol (io.modelcontextprotocol/ui), one copy for every view: JSON-RPC 2.0
// over postMessage with the host, the server's config island, the host's theme. A view asks nothing
// of the network for its data: it comes in the tool result the host sends.
const CONFIG = (() => { try { return JSON.parse(document.getElementById("config").textContent.replace(/^\/\*[^*]*\*\//, "")); } catch (e) { return {}; } })();
const bridge = { nextId: 1, pending: new Map() };

function send(message) { window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*"); }
function request(method, params) {
  const id = bridge.nextId++;
  send({ id, method, params });
  return new Promise((resolve, reject) => bridge.pending.set(id, { resolve, reject }));
}
function notify(method, params) { send({ method, params: params || {} }); }
function applyContext(context) {
  if (context.theme) document.documentElement.dataset.theme = context.theme;
}

// Answers to the view's requests, and the host's notifications: the tool result goes to `onResult`.
function listen(onResult) {
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const msg = event.data;
    if (!msg || msg.jsonrpc !== "2.0") return;
    if (msg.id !== undefined && !msg.method) {
      const waiter = bridge.pending.get(msg.id);
      bridge.pending.delete(msg.id);
      if (waiter) (msg.error ? waiter.reject(msg.error) : waiter.resolve(msg.result));
      return;
    }
    if (msg.method === "ui/notifications/tool-result") onResult(msg.params || {});
    else if (msg.method === "ui/notifications/host-context-changed") applyContext(msg.params || {});
    else if (msg.id !== undefined) send({ id: msg.id, result: {} });  // ui/resource-teardown, ping
  });
}
