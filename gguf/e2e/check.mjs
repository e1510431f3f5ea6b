// Loads GGUF files in llama.cpp (through node-llama-cpp's prebuilt CPU
// binary, never downloading or building) and prints, as one JSON array
// with an entry per run: the token ids of each test string, the
// log-probabilities of the first token after the prompt (the softmax of the
// raw logits: greedy sampling keeps every candidate), and the greedy
// continuation.
//
// usage: node check.mjs request.json   (run by gguf's e2e_test.go)
//   request: {"threads": 1, "runs": [{"model": "m.gguf", "texts": ["..."], "prompt": [ids], "steps": 32}]}
import {readFile} from "node:fs/promises";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const req = JSON.parse(await readFile(process.argv[2], "utf8"));
const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, logLevel: LlamaLogLevel.error});
const results = [];
for (const run of req.runs) {
    const model = await llama.loadModel({modelPath: run.model, gpuLayers: 0});
    const out = {model: run.model, tokens: run.texts.map((t) => Array.from(model.tokenize(t, true))), greedy: []};
    const context = await model.createContext({
        contextSize: 256,
        batchSize: 256,
        // One thread: ggml's workers spin-wait, and on a shared 2-core host two
        // of them made each token take 0.3 s instead of 10 ms.
        threads: req.threads ?? 1,
        flashAttention: false,
        // F32 keys and values: the cache must not round what we compare.
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
    });
    const gen = context.getSequence().evaluateWithMetadata(run.prompt, {probabilities: true}, {temperature: 0, yieldEogToken: true});
    for await (const step of gen) {
        if (out.greedy.length === 0) {
            out.logprobs = new Array(step.probabilities.size);
            for (const [id, p] of step.probabilities) out.logprobs[id] = Math.log(p);
        }
        out.greedy.push(step.token);
        if (out.greedy.length >= run.steps) break;
    }
    await context.dispose();
    await model.dispose();
    results.push(out);
}
await llama.dispose();
process.stdout.write(JSON.stringify(results) + "\n");
