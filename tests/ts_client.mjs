// The TypeScript SDK client (@modelcontextprotocol/sdk 1.x, the one inside Claude Desktop and many
// other hosts) calling tools over Streamable HTTP. Reads {url, headers, calls: [{name, arguments}]}
// as JSON on stdin; prints one JSON line: per call {returned: result} or {thrown: {code, message}}.
// It lists the tools first, as hosts do: that is what arms the client's outputSchema validation.
// The SDK's folder comes in MCP_TS_SDK: ESM resolves bare names only next to the importing file.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sdk = (path) => import(pathToFileURL(join(process.env.MCP_TS_SDK, "dist/esm", path)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const transport = new StreamableHTTPClientTransport(new URL(plan.url), {
  requestInit: { headers: plan.headers ?? {} },
});
const client = new Client({ name: "aai-mcp-ts-test", version: "1.0.0" });
await client.connect(transport);
const listed = await client.listTools();
const outcomes = [];
for (const call of plan.calls) {
  try {
    const result = await client.callTool({ name: call.name, arguments: call.arguments });
    outcomes.push({ returned: result });
  } catch (error) {
    outcomes.push({ thrown: { code: error.code ?? null, message: String(error.message ?? error) } });
  }
}
await client.close();
process.stdout.write(JSON.stringify({ tools: listed.tools.map((tool) => tool.name), outcomes }) + "\n");
