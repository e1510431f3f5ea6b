#!/usr/bin/env node
// llamacpp_bench.mjs: llama.cpp's prefill and batch-1 decode speed on a
// GGUF file, through node-llama-cpp's prebuilt CPU library, timed the way
// `minimind bench generate` times ours: a prompt of random ids evaluated in
// one batch, then --new_tokens greedy decode steps of one token each; one
// warm-up round, then the median of --steps rounds. The last line printed
// is one JSON object.
//
//   node scripts/llamacpp_bench.mjs --nlc DIR --model F.gguf [--threads 2]
//        [--prompt_len 512] [--new_tokens 128] [--steps 5]
//
// DIR holds node_modules/node-llama-cpp (gguf/e2e after
// `NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --prefix gguf/e2e`); the
// library is never downloaded or built (build: "never", gpu: false).
import {createRequire} from "node:module";
import path from "node:path";
import {pathToFileURL} from "node:url";
import {parseArgs} from "node:util";

const {values: opt} = parseArgs({
	options: {
		nlc: {type: "string"},
		model: {type: "string"},
		threads: {type: "string", default: "2"},
		prompt_len: {type: "string", default: "512"},
		new_tokens: {type: "string", default: "128"},
		steps: {type: "string", default: "5"},
		seed: {type: "string", default: "2"},
	},
});
for (const k of ["nlc", "model"]) {
	if (!opt[k]) {
		console.error(`llamacpp_bench: --${k} is required`);
		process.exit(2);
	}
}
const threads = Number(opt.threads), P = Number(opt.prompt_len), N = Number(opt.new_tokens), steps = Number(opt.steps);
for (const [k, v] of Object.entries({threads, prompt_len: P, new_tokens: N, steps})) {
	if (!Number.isInteger(v) || v <= 0) {
		console.error(`llamacpp_bench: --${k} must be a positive integer`);
		process.exit(2);
	}
}

// node-llama-cpp is ESM-only: resolve its entry from DIR, then import it.
const require = createRequire(path.join(path.resolve(opt.nlc), "noop.js"));
let entry;
try {
	entry = require.resolve("node-llama-cpp");
} catch (e) {
	console.error(`llamacpp_bench: node-llama-cpp not found under ${opt.nlc}/node_modules (install: NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --prefix gguf/e2e): ${e.message}`);
	process.exit(2);
}
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);

const llama = await getLlama({gpu: false, build: "never", skipDownload: true, maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: path.resolve(opt.model), gpuLayers: 0});
const context = await model.createContext({contextSize: P + N + 16, batchSize: P, threads: {ideal: threads, min: threads}, sequences: 1});
const seq = context.getSequence();

// Random ids from a small LCG, away from the special tokens at the start
// (the model's vocabulary is at least 6016 ids: MiniMind's is 6400).
let s = BigInt(opt.seed);
const nextId = () => {
	s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
	return 16 + Number((s >> 33n) % 6000n);
};
const prompt = Array.from({length: P}, nextId);
const first = nextId();

const median = (xs) => {
	const a = [...xs].sort((x, y) => x - y);
	return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};

const pre = [], dec = [];
for (let r = 0; r <= steps; r++) {
	await seq.clearHistory();
	const t0 = process.hrtime.bigint();
	await seq.evaluateWithoutGeneratingNewTokens(prompt);
	const t1 = process.hrtime.bigint();
	// N one-token steps: `first`, then each greedy token in turn.
	let n = 0;
	for await (const tok of seq.evaluate([first], {temperature: 0})) {
		void tok;
		if (++n >= N) break;
	}
	const t2 = process.hrtime.bigint();
	if (r > 0) {
		pre.push(P / (Number(t1 - t0) / 1e9));
		dec.push(N / (Number(t2 - t1) / 1e9));
	}
}
const out = {
	prefill_tokens_per_s: median(pre),
	decode_tokens_per_s: median(dec),
	threads: context.currentThreads ?? threads,
	prompt_len: P,
	new_tokens: N,
	engine: `llama.cpp via node-llama-cpp ${llama.buildType ?? ""}`.trim(),
};
console.log(`llama.cpp ${path.basename(opt.model)}: prefill ${out.prefill_tokens_per_s.toFixed(1)} tokens/s, decode ${out.decode_tokens_per_s.toFixed(1)} tokens/s (${threads} threads)`);
console.log(JSON.stringify(out));
await context.dispose();
await model.dispose();
await llama.dispose();
