// AssemblyAI's official JavaScript SDK (`assemblyai` 4.x) configured only with the team proxy's base
// URLs and a team token. Reads a plan as JSON on stdin:
//   {sdk, gateway, token, unscopedToken, audioUrl, wavPath}
// and prints one JSON object: per step {value} or {thrown: {name, message, status}}, plus every URL
// the SDK tried to reach off loopback (refused here, never sent: the test stays on 127.0.0.1).
// The SDK's folder comes in `sdk`: ESM resolves bare names only next to the importing file.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString("utf8"));

// The SDK calls the global fetch at request time, so this guard sees every REST call it makes.
const offLoopback = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = new URL(typeof input === "string" ? input : input.url);
  if (url.hostname !== "127.0.0.1") {
    offLoopback.push(`${init?.method ?? "GET"} ${url.origin}${url.pathname}`);
    return Promise.reject(new Error(`refused off-loopback request to ${url.origin}`));
  }
  return realFetch(input, init);
};

const { AssemblyAI } = await import(pathToFileURL(join(plan.sdk, "dist/node.mjs")).href);
const proxy = `${plan.gateway}/v1/assemblyai`;
const client = (apiKey) =>
  new AssemblyAI({
    apiKey,
    baseUrl: proxy,
    streamingBaseUrl: proxy,
    llmGatewayBaseUrl: `${proxy}/llm-gateway`,
  });
const team = client(plan.token);
const models = { speech_models: ["universal-3-pro", "universal-2"] };
const polling = { pollingInterval: 50, pollingTimeout: 120_000 };

const steps = {};
async function step(name, run) {
  try {
    steps[name] = { value: await run() };
  } catch (error) {
    steps[name] = {
      thrown: { name: error?.name, message: String(error?.message ?? error), status: error?.status ?? null },
    };
  }
  return steps[name].value;
}

const summary = (t) => t && { id: t.id, status: t.status, text: t.text, audio_url: t.audio_url, error: t.error };

const fromUrl = await step("transcribe_url", async () =>
  summary(await team.transcripts.transcribe({ audio: plan.audioUrl, ...models }, polling)),
);
await step("transcribe_file", async () =>
  summary(await team.transcripts.transcribe({ audio: plan.wavPath, ...models }, polling)),
);
await step("list", async () => {
  const page = await team.transcripts.list();
  return { ids: page.transcripts.map((t) => t.id), created_is_date: page.transcripts[0]?.created instanceof Date };
});
// The SDK README's way to page: hand the previous page's prev_url back to list().
const older = await step("list_one", async () => (await team.transcripts.list({ limit: 1 })).page_details);
await step("list_prev_url", async () => (await team.transcripts.list(older.prev_url)).transcripts.length);
// Paging by parameters stays on the base URL: the next older page after the newest transcript.
await step("list_before_id", async () => {
  const newest = (await team.transcripts.list({ limit: 1 })).transcripts[0].id;
  return (await team.transcripts.list({ limit: 1, before_id: newest })).transcripts.map((t) => t.id);
});

const id = fromUrl?.id;
await step("sentences", async () => (await team.transcripts.sentences(id)).sentences.map((s) => s.text));
await step("paragraphs", async () => (await team.transcripts.paragraphs(id)).paragraphs.length);
await step("srt", () => team.transcripts.subtitles(id, "srt"));
await step("vtt", () => team.transcripts.subtitles(id, "vtt", 32));
await step("word_search", async () => (await team.transcripts.wordSearch(id, ["the"])).total_count);
await step("streaming_token", async () =>
  typeof (await team.streaming.createTemporaryToken({ expires_in_seconds: 60 })),
);
await step("llm_chat", async () => {
  const answer = await team.llmGateway.chatCompletions({
    model: "claude-sonnet-4-6",
    messages: [{ role: "user", content: "Summarize the call in one line." }],
  });
  return { content: answer.choices[0].message.content, total_tokens: answer.usage?.total_tokens };
});
await step("llm_understanding", async () => {
  const answer = await team.llmGateway.understanding({
    transcript_id: id,
    speech_understanding: { request: { translation: { target_languages: ["de"] } } },
  });
  return Object.keys(answer);
});
await step("llm_models", async () => (await team.llmGateway.listModels()).data?.length);
await step("delete", async () => summary(await team.transcripts.delete(id)));
await step("after_delete", async () => summary(await team.transcripts.get(id)));

const unscoped = client(plan.unscopedToken);
await step("unscoped_transcribe", () => unscoped.transcripts.transcribe({ audio: plan.audioUrl, ...models }));
await step("unscoped_llm_chat", () =>
  unscoped.llmGateway.chatCompletions({ model: "claude-sonnet-4-6", messages: [{ role: "user", content: "Hi" }] }),
);
// Where the streaming client connects is its own parameter, a full ws URL (the proxy's is /v3/ws).
await step("streaming_ws_url", async () => {
  const transcriber = team.streaming.transcriber({
    websocketBaseUrl: `${proxy.replace("http:", "ws:")}/v3/ws`,
    sampleRate: 16_000,
  });
  await transcriber.connect();
  return "connected";
});

process.stdout.write(JSON.stringify({ steps, offLoopback }));
