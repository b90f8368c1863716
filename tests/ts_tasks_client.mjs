// The @modelcontextprotocol/ext-tasks requester client (npm), driving this server's MCP Tasks over
// Streamable HTTP: the 2025-11-25 generation (the SDK client's default `legacy` negotiation), or with
// plan.generation "v2" the 2026-07-28 extension (negotiated `auto`; task requests then go through the
// rawDispatch the package asks its host for, one JSON-RPC POST each).
// Reads a plan on stdin: {url, generation?, steps: [{do, ...}]}; prints one JSON outcome per step.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";

const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const modern = plan.generation === "v2";
const clientInfo = { name: "ext-tasks-test", version: "1.0.0" };
const client = new Client(clientInfo, modern ? { versionNegotiation: { mode: "auto" } } : {});
const transport = new StreamableHTTPClientTransport(new URL(plan.url), {
  requestInit: { headers: plan.headers ?? {} },
});
// Task status notifications the server pushed (notifications/tasks/status), seen before ext-tasks'
// own handler (which chains to this one) folds them into the execution.
const notified = [];
let onNotified = () => {};
client.fallbackNotificationHandler = async (notification) => {
  if (notification.method?.startsWith("notifications/tasks")) {
    notified.push({ method: notification.method, ...view(notification.params) });
    onNotified();
  }
};
await client.connect(transport);

let nextId = 1;
async function rawDispatch(request) {
  const body = { jsonrpc: "2.0", id: nextId++, ...request };
  if (process.env.TASKS_TRACE) process.stderr.write(`dispatch ${JSON.stringify(request).slice(0, 400)}\n`);
  const response = await fetch(plan.url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": "2026-07-28",
      ...(plan.headers ?? {}),
      "Mcp-Method": request.method,
      ...(request.params?.name ? { "Mcp-Name": request.params.name } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const messages = (response.headers.get("content-type") ?? "").includes("text/event-stream")
    ? text.split("\n").filter((line) => line.startsWith("data:")).map((line) => JSON.parse(line.slice(5)))
    : [JSON.parse(text)];
  const answer = messages.find((message) => message.id === body.id);
  if (!answer) throw new Error(`no JSON-RPC answer (HTTP ${response.status}): ${text.slice(0, 300)}`);
  return answer.error ? { kind: "error", error: answer.error } : { kind: "result", result: answer.result };
}

const session = createTaskSessionFromClient(
  client,
  modern
    ? {
        endpointId: plan.url,
        rawDispatch,
        v2RequestFraming: { protocolVersion: "2026-07-28", clientInfo, clientCapabilities: {} },
      }
    : { endpointId: plan.url },
);

function view(task) {
  return task && { taskId: task.taskId, status: task.status, statusMessage: task.statusMessage, ttl: task.ttl };
}

// Resolves once a notification about `taskId` in a terminal status arrived, or after `ms`.
async function notifiedEnd(taskId, ms) {
  const ended = () => notified.some((n) => n.taskId === taskId && n.status !== "working");
  const deadline = Date.now() + ms;
  while (!ended() && Date.now() < deadline) {
    await new Promise((resolve) => {
      onNotified = resolve;
      setTimeout(resolve, deadline - Date.now());
    });
  }
  return notified.filter((n) => n.taskId === taskId);
}

function summary(outcome) {
  if (outcome.status !== "completed") {
    return { status: outcome.status, error: outcome.error?.message, task: view(outcome.task) };
  }
  const result = resultFromTaskOutcome(outcome);
  return { status: "completed", result, task: view(outcome.task) };
}

const steps = {
  // Call, keep the handle's first view, follow every status until the outcome.
  async run({ tool, arguments: args, notifiedWithinMs }) {
    const started = Date.now();
    const execution = await session.callTool(tool, args, { task: { preference: "require", retentionMs: 600000 } });
    const handleMs = Date.now() - started;
    const events = [];
    const { outcome } = await execution.settle({
      onEvent: (event) => { if (event.type === "task") events.push(view(event.task)); },
    });
    const taskId = execution.handle?.taskId;
    const notes = notifiedWithinMs ? await notifiedEnd(taskId, notifiedWithinMs) : [];
    return { kind: execution.kind, taskId, handleMs, events, outcome: summary(outcome), notified: notes };
  },
  // Call and leave: the task keeps running on the server; a later client fetches it by id.
  async start({ tool, arguments: args, waitForMessage }) {
    const execution = await session.callTool(tool, args, { task: { preference: "require" } });
    const taskId = execution.handle.taskId;
    let seen = await session.task(taskId).snapshot();
    while (waitForMessage && !(seen.statusMessage ?? "").includes(waitForMessage) && seen.status === "working") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await session.task(taskId).snapshot();
    }
    // A 2026-07-28 session (ext-tasks 0.2.2) sends tasks/cancel for a task it let go of, by detach or
    // handoff: there the client simply exits without closing, as a crashed or closed host would.
    if (!modern) await execution.detach();
    return { kind: execution.kind, taskId, first: view(seen) };
  },
  // A plain tools/call (no task): what the client needs before a task, e.g. an upload link.
  async call({ tool, arguments: args }) {
    const result = await client.callTool({ name: tool, arguments: args });
    return { isError: result.isError ?? false, structuredContent: result.structuredContent };
  },
  async fetch({ taskId }) {
    return summary(await session.task(taskId).result());
  },
  async snapshot({ taskId }) {
    return view(await session.task(taskId).snapshot());
  },
  async cancel({ taskId, notifiedWithinMs }) {
    await session.task(taskId).cancel();
    const seen = view(await session.task(taskId).snapshot());
    return notifiedWithinMs ? { ...seen, notified: await notifiedEnd(taskId, notifiedWithinMs) } : seen;
  },
  async list() {
    const page = await session.listTasks();
    return { taskIds: page.tasks.map((task) => task.taskId), capabilities: session.capabilities };
  },
};

const outcomes = [];
let lastTaskId;  // a step with no taskId acts on the task an earlier step of this session made
for (const step of plan.steps) {
  try {
    const outcome = await steps[step.do]({ ...step, taskId: step.taskId ?? lastTaskId });
    lastTaskId = outcome.taskId ?? lastTaskId;
    outcomes.push(outcome);
  } catch (error) {
    outcomes.push({ thrown: `${error?.name}: ${error?.message}`, code: error?.code });
  }
}
process.stdout.write(JSON.stringify(outcomes));
if (!modern) {
  await session.close();
  await client.close();
}
process.exit(0);
