// Greedy generation with transformers.js on an exported smoldpo deployment folder.
//
//   node greedy.mjs <modelDir> <request.json>
//
// request.json:
//   {
//     "input_ids": [ ... ],                        // the prompt, image tokens already expanded
//     "pixel_values": "/path/to/pixels.f32",       // raw float32 little-endian (relative: to request.json)
//     "pixel_values_shape": [1, num_images, 3, S, S],
//     "max_new_tokens": 12,
//     "ignore_eos": false,                          // optional: true disables the EOS stop
//     "dtype": "q4"                                 // optional: transformers.js' dtype, a name or a per-file map
//   }                                               //   ({"decoder_model_merged": "q4f16", ...}); default fp32
// pixel_attention_mask is all true, shape [1, num_images, S, S].
//
// Prints the NEW token ids (prompt left out) as one JSON array on stdout; nothing else goes to stdout.
// The image processor of transformers.js is bypassed on purpose (its resize differs from PIL's):
// this checks the ONNX folder and the decoding loop, not preprocessing.

import fs from 'node:fs';
import path from 'node:path';

// transformers.js (and onnxruntime) may log to stdout: keep stdout for the result alone.
const out = process.stdout.write.bind(process.stdout);
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);
console.debug = (...args) => console.error(...args);
console.warn = (...args) => console.error(...args);

const { env, AutoModelForVision2Seq, Tensor } = await import('@huggingface/transformers');

function usage(message) {
    console.error(message);
    console.error('usage: node greedy.mjs <modelDir> <request.json>');
    process.exit(2);
}

const [modelArg, requestArg] = process.argv.slice(2);
if (!modelArg || !requestArg) usage('missing arguments');
const modelDir = path.resolve(modelArg);
const requestPath = path.resolve(requestArg);
if (!fs.existsSync(path.join(modelDir, 'config.json'))) usage(`${modelDir} has no config.json`);

const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
const ids = request.input_ids;
if (!Array.isArray(ids) || ids.length === 0 || !ids.every(Number.isInteger)) usage('input_ids must be a non-empty array of ints');
const shape = request.pixel_values_shape ?? request.pixel_values_dims;
if (!Array.isArray(shape) || shape.length !== 5 || shape[0] !== 1 || shape[2] !== 3 || shape[3] !== shape[4]) {
    usage(`pixel_values_shape must be [1, num_images, 3, S, S]: ${JSON.stringify(shape)}`);
}
const maxNewTokens = request.max_new_tokens;
if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) usage('max_new_tokens must be a positive int');

const pixelFile = path.resolve(path.dirname(requestPath), request.pixel_values);
const bytes = fs.readFileSync(pixelFile);
const count = shape.reduce((a, b) => a * b, 1);
if (bytes.length !== count * 4) usage(`${pixelFile}: ${bytes.length} bytes, expected ${count * 4} for ${JSON.stringify(shape)}`);
const pixels = new Float32Array(count);
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
for (let i = 0; i < count; i++) pixels[i] = view.getFloat32(i * 4, true);

// local files only
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(modelDir) + path.sep;
env.useBrowserCache = false;
env.useFSCache = false;

const dtype = request.dtype ?? 'fp32';
if (typeof dtype !== 'string' && (typeof dtype !== 'object' || Array.isArray(dtype))) usage(`dtype must be a name or a map: ${JSON.stringify(dtype)}`);
const model = await AutoModelForVision2Seq.from_pretrained(path.basename(modelDir), {
    dtype,
    device: 'cpu',
    local_files_only: true,
});

const n = ids.length;
const [, images, , size] = shape;
const input_ids = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]);
const attention_mask = new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
const pixel_values = new Tensor('float32', pixels, shape);
const pixel_attention_mask = new Tensor('bool', new Uint8Array(images * size * size).fill(1), [1, images, size, size]);

const options = {
    input_ids,
    attention_mask,
    pixel_values,
    pixel_attention_mask,
    max_new_tokens: maxNewTokens,
    do_sample: false,
};
if (request.ignore_eos) options.eos_token_id = null;

const sequences = await model.generate(options);
const all = Array.from(sequences.data, Number);
if (sequences.dims[0] !== 1 || all.length < n) {
    console.error(`unexpected output shape ${JSON.stringify(sequences.dims)} for a prompt of ${n} tokens`);
    process.exit(1);
}
for (let i = 0; i < n; i++) {
    if (all[i] !== ids[i]) {
        console.error(`the output does not start with the prompt (position ${i}: ${all[i]} != ${ids[i]})`);
        process.exit(1);
    }
}
out(JSON.stringify(all.slice(n)) + '\n');
await model.dispose?.();
