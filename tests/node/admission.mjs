// One call through the official OpenAI Node SDK, with its DEFAULT retry policy, against a gateway;
// driven by tests/e2e/test_admission_node_sdk.py, which asserts on what this prints.
//
// Environment:
//   ONSHORE_BASE_URL   the gateway's /v1 URL (required)
//   ONSHORE_API_KEY    the partner key (required)
//   ONSHORE_SCENARIO   chat     chat.completions.create, the answer's text
//                      headers  the same call with .withResponse(): the x-ratelimit-* headers as the
//                               SDK's own Response object shows them to an application
//                      stream   a streamed chat (stream: true) with .withResponse(): text and headers
//   ONSHORE_MODEL      the model to ask (default "normal")
//
// Output: while it runs, one stderr line "attempt <status>" as each HTTP attempt is answered (the
// driver waits for the first 429 to release the place it is holding); at the end, ONE stdout line of
// JSON: {"ok": true, "answer", "headers", "attempts"} or {"ok": false, "error", "attempts"}, where
// each attempt is {"sent_ms", "answered_ms" (monotonic, this process's clock), "status", "headers",
// and "body" when not 2xx} or, when no answer came, {"sent_ms", "failure"}. The exit status is 0 whenever an outcome was printed (an
// APIError is an outcome the test asserts on), 2 for a bad environment.
//
// The SDK's retries are left as they ship: maxRetries 2, and its own reading of the answer
// (openai 7.60.0, client.mjs shouldRetry / retryRequest): `x-should-retry: true|false` is obeyed
// first; else 408, 409, 429 and 5xx are retried; the delay is `retry-after-ms` if present, else
// `retry-after` (seconds or an HTTP date), used only when 0..60 s, else its own backoff (0.5 s
// doubling to 8 s, minus up to 25 % jitter).

import OpenAI from "openai";

const baseURL = process.env.ONSHORE_BASE_URL;
const apiKey = process.env.ONSHORE_API_KEY;
const scenario = process.env.ONSHORE_SCENARIO ?? "chat";
const model = process.env.ONSHORE_MODEL ?? "normal";
if (!baseURL || !apiKey || !["chat", "headers", "stream"].includes(scenario)) {
  process.stderr.write("usage: ONSHORE_BASE_URL=... ONSHORE_API_KEY=... ONSHORE_SCENARIO=chat|headers|stream\n");
  process.exit(2);
}

const attempts = [];

// The SDK calls this once per attempt, retries included, so it sees exactly what the SDK saw.
async function recordingFetch(url, init) {
  const sent_ms = performance.now();
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    attempts.push({ sent_ms, failure: String(error?.cause ?? error) });
    process.stderr.write("attempt failed\n");
    throw error;
  }
  const attempt = { sent_ms, status: response.status, headers: Object.fromEntries(response.headers) };
  if (!response.ok) {
    attempt.body = await response.clone().text(); // an error's JSON; the SDK reads its own copy
  }
  attempt.answered_ms = performance.now(); // the SDK starts any retry delay after this
  attempts.push(attempt);
  process.stderr.write(`attempt ${response.status}\n`);
  return response;
}

function rateLimitHeaders(headers) {
  return Object.fromEntries([...headers].filter(([name]) => name.startsWith("x-ratelimit-")));
}

const client = new OpenAI({ baseURL, apiKey, fetch: recordingFetch }); // default maxRetries and timeout
const messages = [{ role: "user", content: "hi" }];

let outcome;
try {
  if (scenario === "chat") {
    const completion = await client.chat.completions.create({ model, messages });
    outcome = { ok: true, answer: completion.choices[0].message.content, headers: {} };
  } else if (scenario === "headers") {
    const { data, response } = await client.chat.completions.create({ model, messages, max_tokens: 10 }).withResponse();
    outcome = { ok: true, answer: data.choices[0].message.content, headers: rateLimitHeaders(response.headers) };
  } else {
    const { data: stream, response } = await client.chat.completions.create({ model, messages, stream: true }).withResponse();
    let answer = "";
    for await (const chunk of stream) {
      answer += chunk.choices[0]?.delta?.content ?? "";
    }
    outcome = { ok: true, answer, headers: rateLimitHeaders(response.headers) };
  }
} catch (error) {
  outcome = {
    ok: false,
    error: {
      class: error?.constructor?.name ?? typeof error,
      is_rate_limit_error: error instanceof OpenAI.RateLimitError,
      status: error?.status ?? null,
      code: error?.code ?? null,
      type: error?.type ?? null,
      message: String(error?.message ?? error),
    },
  };
}
process.stdout.write(JSON.stringify({ ...outcome, attempts }) + "\n");
