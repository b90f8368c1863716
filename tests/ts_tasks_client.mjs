// The @modelcontextprotocol/ext-tasks requester client (npm), driving this server's MCP Tasks over
// Streamable HTTP in the 2025-11-25 generation (the SDK client's default `legacy` negotiation).
// Reads a plan on stdin: {url, headers, steps: [{do, ...}]}; prints one JSON outcome per step.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { createTaskSessionFromClient, resultFromTaskOutcome } from "@modelcontextprotocol/ext-tasks/client";

const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const client = new Client({ name: "ext-tasks-test", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(plan.url), {
  requestInit: { headers: plan.headers ?? {} },
});
await client.connect(transport);
const session = createTaskSessionFromClient(client, { endpointId: plan.url });

function view(task) {
  return task && { taskId: task.taskId, status: task.status, statusMessage: task.statusMessage, ttl: task.ttl };
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
  async run({ tool, arguments: args }) {
    const started = Date.now();
    const execution = await session.callTool(tool, args, { task: { preference: "require", retentionMs: 600000 } });
    const handleMs = Date.now() - started;
    const events = [];
    const { outcome } = await execution.settle({
      onEvent: (event) => { if (event.type === "task") events.push(view(event.task)); },
    });
    return { kind: execution.kind, taskId: execution.handle?.taskId, handleMs, events, outcome: summary(outcome) };
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
    await execution.detach();
    return { kind: execution.kind, taskId, first: view(seen) };
  },
  async fetch({ taskId }) {
    return summary(await session.task(taskId).result());
  },
  async snapshot({ taskId }) {
    return view(await session.task(taskId).snapshot());
  },
  async cancel({ taskId }) {
    await session.task(taskId).cancel();
    return view(await session.task(taskId).snapshot());
  },
  async list() {
    const page = await session.listTasks();
    return { taskIds: page.tasks.map((task) => task.taskId), capabilities: session.capabilities };
  },
};

const outcomes = [];
for (const step of plan.steps) {
  try {
    outcomes.push(await steps[step.do](step));
  } catch (error) {
    outcomes.push({ thrown: `${error?.name}: ${error?.message}`, code: error?.code });
  }
}
await session.close();
await client.close();
process.stdout.write(JSON.stringify(outcomes));
