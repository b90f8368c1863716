// What an official TypeScript client sees of the MCP Apps extension over Streamable HTTP: the SDK
// 1.x (@modelcontextprotocol/sdk, 2025-11-25: Claude Desktop and many hosts) or 2.x
// (@modelcontextprotocol/client: 2026-07-28 with mode "auto", 2025-11-25 with "legacy", its default).
// Reads {sdk, flavour: "v1"|"v2", mode?, url} as JSON on stdin;
// prints one JSON line: {protocolVersion, capabilities, toolMeta: {name: _meta}, view: {mimeType, meta}}.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const load = (path) => import(pathToFileURL(join(plan.sdk, path)).href);

let client;
let transport;
if (plan.flavour === "v1") {
  const { Client } = await load("dist/esm/client/index.js");
  const { StreamableHTTPClientTransport } = await load("dist/esm/client/streamableHttp.js");
  client = new Client({ name: "aai-mcp-apps-probe", version: "1.0.0" });
  transport = new StreamableHTTPClientTransport(new URL(plan.url));
} else {
  const sdk = await load("dist/index.mjs");
  const info = { name: "aai-mcp-apps-probe", version: "1.0.0" };
  client = new sdk.Client(info, { versionNegotiation: { mode: plan.mode ?? "auto" } });
  transport = new sdk.StreamableHTTPClientTransport(new URL(plan.url));
}
await client.connect(transport);
const { tools } = await client.listTools();
const toolMeta = Object.fromEntries(tools.filter((tool) => tool._meta).map((tool) => [tool.name, tool._meta]));
const uri = toolMeta.transcribe.ui.resourceUri;
const { contents } = await client.readResource({ uri });
const protocolVersion = client.getNegotiatedProtocolVersion ? client.getNegotiatedProtocolVersion() : null;
const capabilities = client.getServerCapabilities();
await client.close();
process.stdout.write(
  JSON.stringify({ protocolVersion, capabilities, toolMeta, view: { mimeType: contents[0].mimeType, meta: contents[0]._meta } }) + "\n",
);
