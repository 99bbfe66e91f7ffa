// The view's side of MCP Apps (io.modelcontextprotocol/ui, 2026-01-26): JSON-RPC 2.0 with the
// host over postMessage. `McpApp.connect` makes the handshake (ui/initialize, then
// ui/notifications/initialized, before anything else is sent); `on` takes the host's
// notifications and requests; `callTool` goes through the host, which signs the call in as the
// user. The host's theme and style variables are applied to the document as they come, and the
// document's size is reported whenever it changes.
const McpApp = (() => {
  const PROTOCOL_VERSION = "2026-01-26";
  // Only the handshake has a deadline: a host may ask the person before it runs a tool, and a
  // call given up on could still succeed.
  const HANDSHAKE_MS = 10000;
  const handlers = {};
  const pending = new Map();
  let nextId = 1;
  let context = {};
  let connected = false;

  const post = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");

  function request(method, params, deadline) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer =
        deadline &&
        setTimeout(() => {
          pending.delete(id);
          reject(new Error("The app did not answer in time."));
        }, deadline);
      pending.set(id, { resolve, reject, timer });
      post({ id, method, params });
    });
  }

  // Nothing but the handshake goes to the host before it has ended.
  const afterHandshake = (method, params) =>
    connected
      ? request(method, params)
      : Promise.reject(new Error("The view is not connected to the app yet."));

  const notify = (method, params) => post({ method, params });

  function applyContext(update) {
    context = { ...context, ...update };
    const root = document.documentElement;
    if (update.theme === "light" || update.theme === "dark") root.dataset.theme = update.theme;
    const variables = (update.styles && update.styles.variables) || {};
    for (const [name, value] of Object.entries(variables)) {
      if (name.startsWith("--") && typeof value === "string") root.style.setProperty(name, value);
    }
  }

  function answer(message) {
    const handler = handlers[message.method];
    if (!handler) {
      post({ id: message.id, error: { code: -32601, message: `Unknown method ${message.method}` } });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.params || {}))
      .then(
        (result) => post({ id: message.id, result: result || {} }),
        (error) => post({ id: message.id, error: { code: -32603, message: String(error.message || error) } }),
      );
  }

  window.addEventListener("message", (event) => {
    const message = event.data;
    if (event.source !== window.parent || !message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      pending.delete(message.id);
      if (waiting.timer) clearTimeout(waiting.timer);
      if (message.error) waiting.reject(new Error(message.error.message || "The app refused."));
      else waiting.resolve(message.result || {});
    } else if (message.id !== undefined) {
      answer(message);
    } else if (handlers[message.method]) {
      handlers[message.method](message.params || {});
    }
  });

  let reported = "";
  let sizeTimer;
  function reportSize() {
    // Debounced: a list that changes row by row is reported once it has settled.
    clearTimeout(sizeTimer);
    sizeTimer = setTimeout(() => {
      const box = document.documentElement.getBoundingClientRect();
      const size = { width: Math.ceil(box.width), height: Math.ceil(box.height) };
      if (`${size.width}x${size.height}` === reported) return;
      reported = `${size.width}x${size.height}`;
      notify("ui/notifications/size-changed", size);
    }, 60);
  }

  const on = (method, handler) => {
    handlers[method] = handler;
  };
  on("ui/notifications/host-context-changed", applyContext);
  on("ui/resource-teardown", () => ({}));
  on("ping", () => ({}));

  async function connect(appInfo) {
    const result = await request(
      "ui/initialize",
      { appInfo, appCapabilities: {}, protocolVersion: PROTOCOL_VERSION },
      HANDSHAKE_MS,
    );
    applyContext(result.hostContext || {});
    notify("ui/notifications/initialized", {});
    connected = true;
    new ResizeObserver(reportSize).observe(document.documentElement);
    return result;
  }

  return {
    connect,
    on,
    context: () => context,
    callTool: (name, args) => afterHandshake("tools/call", { name, arguments: args }),
    // Each update replaces the one before it: say everything the model should know.
    updateModelContext: (text) =>
      afterHandshake("ui/update-model-context", { content: [{ type: "text", text }] }),
  };
})();
