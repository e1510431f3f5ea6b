// Drives MiniMind-Go's server with the official openai client, unchanged.
// e2e_test.go starts the server and sets MINIMIND_BASE_URL and
// MINIMIND_API_KEY; run it through `go test ./server/e2e/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = process.env.MINIMIND_BASE_URL;
const apiKey = process.env.MINIMIND_API_KEY;
if (!baseURL || !apiKey) throw new Error("set MINIMIND_BASE_URL and MINIMIND_API_KEY (go test ./server/e2e/ does)");
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const messages = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "Say something." },
];

test("models.list", async () => {
  const page = await client.models.list();
  assert.deepEqual(page.data.map((m) => m.id), ["minimind"]);
});

test("chat completion", async () => {
  const r = await client.chat.completions.create({ model: "minimind", messages, max_tokens: 8, temperature: 0, ignore_eos: true });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 8);
});

test("streaming chat completion", async () => {
  const stream = await client.chat.completions.create({
    model: "minimind", messages, max_tokens: 8, temperature: 0, ignore_eos: true,
    stream: true, stream_options: { include_usage: true },
  });
  let text = "", chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.equal(finish, "length");
  assert.equal(usage.completion_tokens, 8);
  // Greedy: the stream says what the non-streamed call says.
  const whole = await client.chat.completions.create({ model: "minimind", messages, max_tokens: 8, temperature: 0, ignore_eos: true });
  assert.equal(text, whole.choices[0].message.content);
});

test("legacy completion", async () => {
  const r = await client.completions.create({ model: "minimind", prompt: "Once upon a time", max_tokens: 4, ignore_eos: true });
  assert.equal(r.object, "text_completion");
  assert.equal(r.usage.completion_tokens, 4);
});

test("bad request surfaces as BadRequestError", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "minimind", messages: [{ role: "wizard", content: "hi" }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 400);
      assert.match(err.message, /role/);
      assert.equal(err.param, "messages[0].role");
      return true;
    },
  );
});

test("wrong API key surfaces as AuthenticationError", async () => {
  const bad = new OpenAI({ baseURL, apiKey: "wrong-key", maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: "minimind", messages }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 401);
    return true;
  });
});

// A full tool round trip: the model (scripted: e2e_test.go's
// startToolServer) thinks and calls get_weather; the client runs the tool
// and sends the result back; the answer uses it. Then the same first
// turn streamed, through the client's own accumulating stream helper.
const toolsURL = process.env.MINIMIND_TOOLS_BASE_URL;
const tools = [{
  type: "function",
  function: {
    name: "get_weather", description: "Current weather of a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
}];

test("tool round trip", { skip: !toolsURL && "MINIMIND_TOOLS_BASE_URL not set" }, async () => {
  const tc = new OpenAI({ baseURL: toolsURL, apiKey, maxRetries: 0 });
  const convo = [{ role: "user", content: "What is the weather in Paris?" }];
  const first = await tc.chat.completions.create({ model: "minimind", messages: convo, tools, tool_choice: "auto", open_thinking: true });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.reasoning_content, "The user asks about the weather; I should call get_weather.");
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.match(call.id, /^call_[0-9a-f]{24}$/);
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });

  // Run the "tool" and send its result back with the assistant's turn.
  const result = { city: JSON.parse(call.function.arguments).city, temp_c: 21, sky: "sunny" };
  convo.push(choice.message, { role: "tool", tool_call_id: call.id, content: JSON.stringify(result) });
  const second = await tc.chat.completions.create({ model: "minimind", messages: convo, tools });
  assert.equal(second.choices[0].finish_reason, "stop");
  assert.equal(second.choices[0].message.content, "The weather tool says: " + JSON.stringify(result));
  assert.equal(second.choices[0].message.reasoning_content, "The tool answered.");
  assert.equal(second.choices[0].message.tool_calls, undefined);

  // Streamed: the client's helper rebuilds the message from the deltas.
  const stream = tc.chat.completions.stream({ model: "minimind", messages: convo.slice(0, 1), tools, open_thinking: true });
  let reasoningDeltas = 0;
  for await (const chunk of stream) if (chunk.choices[0]?.delta?.reasoning_content) reasoningDeltas++;
  const final = await stream.finalChatCompletion();
  assert.ok(reasoningDeltas > 1, `reasoning came in ${reasoningDeltas} deltas`);
  assert.equal(final.choices[0].finish_reason, "tool_calls");
  assert.equal(final.choices[0].message.tool_calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(final.choices[0].message.tool_calls[0].function.arguments), { city: "Paris" });
  assert.match(final.choices[0].message.tool_calls[0].id, /^call_/);
});

test("malformed tools entry surfaces as BadRequestError naming it", { skip: !toolsURL && "MINIMIND_TOOLS_BASE_URL not set" }, async () => {
  const tc = new OpenAI({ baseURL: toolsURL, apiKey, maxRetries: 0 });
  await assert.rejects(
    tc.chat.completions.create({ model: "minimind", messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { description: "no name" } }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.param, "tools[0].function.name");
      return true;
    },
  );
});
