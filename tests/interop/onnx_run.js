// Runs an ONNX model with onnxruntime-node and compares with keel's predictions.
//   node onnx_run.js MODEL.onnx X.npy EXPECTED.npy      (exit 1 when max |ort - keel| > 1e-5)
'use strict';
const ort = require('onnxruntime-node');
const {readNpy, maxAbsDiff} = require('./npy.js');

async function main(modelPath, xPath, expectedPath) {
  const session = await ort.InferenceSession.create(modelPath);
  const x = readNpy(xPath);
  const expected = readNpy(expectedPath);
  const out = await session.run({input: new ort.Tensor('float32', x.data, x.shape)});
  const y = out.output;
  const diff = maxAbsDiff(y.data, expected.data);
  console.log(`onnxruntime ${modelPath}: output ${y.dims}; max |ort - keel| = ${diff.toExponential(3)}`);
  if (!(diff <= 1e-5)) {
    console.error(`FAIL: max abs difference ${diff} > 1e-5`);
    process.exit(1);
  }
}

if (process.argv.length !== 5) {
  console.error('usage: onnx_run.js MODEL.onnx X.npy EXPECTED.npy');
  process.exit(2);
}
main(...process.argv.slice(2)).catch((e) => { console.error(`FAIL: ${e.stack || e}`); process.exit(1); });
