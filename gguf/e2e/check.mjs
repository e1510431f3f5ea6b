// Loads a GGUF file in llama.cpp (through node-llama-cpp's prebuilt CPU
// binary, never downloading or building) and prints, as one JSON object:
// the token ids of each test string, the log-probabilities of the first
// token after the prompt (softmax of the raw logits: greedy sampling keeps
// every candidate), and the greedy continuation.
//
// usage: node check.mjs request.json   (run by gguf's e2e_test.go)
//   request: {"model": "m.gguf", "texts": ["..."], "prompt": [ids], "steps": 32, "threads": 2}
import {readFile} from "node:fs/promises";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const req = JSON.parse(await readFile(process.argv[2], "utf8"));
const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: req.model, gpuLayers: 0});
const out = {tokens: req.texts.map((t) => Array.from(model.tokenize(t, true)))};
const context = await model.createContext({
    contextSize: 256,
    batchSize: 256,
    threads: req.threads ?? 2,
    flashAttention: false,
    // F32 keys and values: the cache must not round what we compare.
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
});
const seq = context.getSequence();
out.greedy = [];
const gen = seq.evaluateWithMetadata(req.prompt, {probabilities: true}, {temperature: 0, yieldEogToken: true});
for await (const step of gen) {
    if (out.greedy.length === 0) {
        const n = step.probabilities.size;
        const logprobs = new Array(n);
        for (const [id, p] of step.probabilities) logprobs[id] = Math.log(p);
        out.logprobs = logprobs;
    }
    out.greedy.push(step.token);
    if (out.greedy.length >= req.steps) break;
}
await context.dispose();
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify(out) + "\n");
