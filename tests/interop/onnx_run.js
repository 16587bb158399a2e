// Runs an ONNX model with onnxruntime-node and compares with keel's predictions.
//   node onnx_run.js MODEL.onnx X.npy EXPECTED.npy       graph input "input", output "output"
//   node onnx_run.js MODEL.onnx in:NAME=X.npy ... out:NAME=EXPECTED.npy ...
// Exit 1 when an output differs: max |ort - keel| / max(1, |keel|) > 1e-5, or when the graph's
// input or output names are not exactly those given.
'use strict';
const ort = require('onnxruntime-node');
const {readNpy} = require('./npy.js');

function parseArgs(args) {
  if (args.length === 2 && !args[0].includes('=')) {
    return {inputs: {input: args[0]}, outputs: {output: args[1]}};
  }
  const inputs = {}, outputs = {};
  for (const a of args) {
    const m = a.match(/^(in|out):([^=]+)=(.+)$/);
    if (!m) throw new Error(`bad argument ${a}; expected in:NAME=FILE.npy or out:NAME=FILE.npy`);
    (m[1] === 'in' ? inputs : outputs)[m[2]] = m[3];
  }
  return {inputs, outputs};
}

function sameNames(actual, expected, what) {
  const a = [...actual].sort().join(','), e = Object.keys(expected).sort().join(',');
  if (a !== e) throw new Error(`graph ${what} are [${a}], expected [${e}]`);
}

async function main(modelPath, args) {
  const {inputs, outputs} = parseArgs(args);
  const session = await ort.InferenceSession.create(modelPath);
  sameNames(session.inputNames, inputs, 'inputs');
  sameNames(session.outputNames, outputs, 'outputs');
  const feeds = {};
  for (const [name, path] of Object.entries(inputs)) {
    const x = readNpy(path);
    feeds[name] = new ort.Tensor('float32', x.data, x.shape);
  }
  const out = await session.run(feeds);
  let failed = false;
  for (const [name, path] of Object.entries(outputs)) {
    const expected = readNpy(path);
    const y = out[name];
    let diff = y.data.length === expected.data.length ? 0 : Infinity;
    for (let i = 0; i < Math.min(y.data.length, expected.data.length); ++i) {
      const d = Math.abs(y.data[i] - expected.data[i]) / Math.max(1, Math.abs(expected.data[i]));
      if (!(d <= diff)) diff = d;  // NaN counts as a difference
    }
    console.log(`onnxruntime ${modelPath}: output ${name} ${y.dims}; max |ort - keel| / max(1, |keel|) = ${diff.toExponential(3)}`);
    if (!(diff <= 1e-5)) {
      console.error(`FAIL: output ${name}: difference ${diff} > 1e-5`);
      failed = true;
    }
  }
  if (failed) process.exit(1);
}

if (process.argv.length < 5) {
  console.error('usage: onnx_run.js MODEL.onnx X.npy EXPECTED.npy\n' +
                '       onnx_run.js MODEL.onnx in:NAME=X.npy ... out:NAME=EXPECTED.npy ...');
  process.exit(2);
}
main(process.argv[2], process.argv.slice(3)).catch((e) => { console.error(`FAIL: ${e.stack || e}`); process.exit(1); });
