// The official JavaScript SDK's streaming v3 client (`assemblyai` 4.x) at a WebSocket URL of our
// choosing. Reads {sdk, httpsUrl, wsUrl, apiKey, wavPath, sessions?, refusedKey?} as JSON on stdin;
// streams the WAV's PCM once per session named in `sessions` (default withKey, withToken):
//   withKey    the API key (Node sends it in the upgrade's Authorization header)
//   withToken  a temporary token from createTemporaryToken (sent as ?token=, the SDK's only browser form)
//   refused    `refusedKey` instead of the API key, with no retries (a key the server refuses)
// and prints one JSON object: per session {value: {begin, turns, closeCode}} or {thrown: {name, message}}.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const plan = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const { AssemblyAI } = await import(pathToFileURL(join(plan.sdk, "dist/node.mjs")).href);

const client = new AssemblyAI({ apiKey: plan.apiKey, streamingBaseUrl: plan.httpsUrl });
const WAV_HEADER = 44; // a plain PCM WAV, as tests/support wav writers make it
const CHUNK = 3200; // 100 ms of 16 kHz 16-bit mono
const pcm = (await readFile(plan.wavPath)).subarray(WAV_HEADER);

async function session(credentials, by = client) {
  const transcriber = by.streaming.transcriber({
    websocketBaseUrl: plan.wsUrl,
    sampleRate: 16_000,
    formatTurns: true,
    ...credentials,
  });
  const turns = [];
  let closeCode = null;
  transcriber.on("turn", (turn) =>
    turns.push({ transcript: turn.transcript, end_of_turn: turn.end_of_turn, formatted: turn.turn_is_formatted }),
  );
  transcriber.on("close", (code) => (closeCode = code));
  transcriber.on("error", () => {}); // thrown by connect() or seen as the close code
  const begin = await transcriber.connect();
  for (let at = 0; at < pcm.length; at += CHUNK) transcriber.sendAudio(pcm.subarray(at, at + CHUNK));
  await transcriber.close(); // sends Terminate and waits for the Termination frame
  return { begin: begin.type, turns, closeCode };
}

async function outcome(run) {
  try {
    return { value: await run() };
  } catch (error) {
    return { thrown: { name: error?.name, message: String(error?.message ?? error) } };
  }
}

const sessions = {
  withKey: () => session({}),
  withToken: async () =>
    session({ token: await client.streaming.createTemporaryToken({ expires_in_seconds: 60 }) }),
  refused: () =>
    session(
      { maxConnectionRetries: 0 },
      new AssemblyAI({ apiKey: plan.refusedKey, streamingBaseUrl: plan.httpsUrl }),
    ),
};
const record = {};
for (const name of plan.sessions ?? ["withKey", "withToken"]) record[name] = await outcome(sessions[name]);
process.stdout.write(JSON.stringify(record));
