// TF.js interop for keel saved models (keel/io/saved_model.h), pure JS @tensorflow/tfjs.
//
//   node tfjs_roundtrip.js load DIR X.npy EXPECTED.npy
//       loads a keel-saved model with tf.loadLayersModel through a custom IOHandler reading DIR with
//       fs, predicts X and checks |tfjs - keel| <= 1e-5 elementwise. Exit 1 on mismatch. For a
//       model with several inputs or outputs, X / EXPECTED are comma-separated lists of files, one
//       per model input / output in order.
//   node tfjs_roundtrip.js make DIR X.npy PRED.npy
//       builds a small model in tfjs (Flatten, BN, Dense relu, Dense(no bias), BN, Activation,
//       Dense softmax), trains it a few steps so BN statistics move, saves it with
//       tf.io.withSaveHandler as model.json + group1-shard1of1.bin in DIR and writes its
//       predictions on X to PRED.npy, for keel to load and compare.
//   node tfjs_roundtrip.js make-functional DIR X.npy PRED.npy
//       the same with a functional tf.model: a residual Add, a Dense layer called twice (shared
//       weights) and a Concatenate.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const {readNpy, writeNpy, maxAbsDiff} = require('./npy.js');

const TOLERANCE = 1e-5;

function dirHandler(dir) {
  return {
    load: async () => {
      const modelJSON = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const b = fs.readFileSync(path.join(dir, p));
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

async function load(dir, xPaths, expectedPaths) {
  const model = await tf.loadLayersModel(dirHandler(dir), {strict: true});
  const xs = xPaths.split(',').map(readNpy).map((x) => tf.tensor(x.data, x.shape));
  const expected = expectedPaths.split(',').map(readNpy);
  let ys = model.predict(xs.length === 1 ? xs[0] : xs);
  if (!Array.isArray(ys)) ys = [ys];
  if (ys.length !== expected.length) {
    console.error(`FAIL: the model has ${ys.length} outputs, ${expected.length} expected files given`);
    process.exit(1);
  }
  let diff = 0;
  for (let i = 0; i < ys.length; ++i) diff = Math.max(diff, maxAbsDiff(await ys[i].data(), expected[i].data));
  const meta = model.getUserDefinedMetadata();
  console.log(`tfjs loaded ${dir} (${model.layers.length} layers, ${model.countParams()} params` +
              `${meta ? ', userDefinedMetadata kept' : ''}); max |tfjs - keel| = ${diff.toExponential(3)}`);
  if (!(diff <= TOLERANCE)) {
    console.error(`FAIL: max abs difference ${diff} > ${TOLERANCE}`);
    process.exit(1);
  }
}

// A Sequential model of 7 layers, two of them BN (statistics move while training).
function sequentialModel(init) {
  const model = tf.sequential({name: 'tfjs_made'});
  model.add(tf.layers.flatten({inputShape: [28, 28], name: 'flatten'}));
  model.add(tf.layers.batchNormalization({name: 'bn_in', momentum: 0.5}));
  model.add(tf.layers.dense({units: 32, activation: 'relu', kernelInitializer: init(1), name: 'hidden'}));
  model.add(tf.layers.dense({units: 16, useBias: false, kernelInitializer: init(2), name: 'hidden2'}));
  model.add(tf.layers.batchNormalization({name: 'bn_mid', momentum: 0.5}));
  model.add(tf.layers.activation({activation: 'elu', name: 'elu'}));
  model.add(tf.layers.dense({units: 10, activation: 'softmax', kernelInitializer: init(3), name: 'out'}));
  return model;
}

// A functional model: residual Add, a Dense called twice, Concatenate.
function functionalModel(init) {
  const x = tf.input({shape: [28, 28], name: 'pixels'});
  const h = tf.layers.dense({units: 32, activation: 'relu', kernelInitializer: init(1), name: 'stem'})
                .apply(tf.layers.flatten({name: 'flatten'}).apply(x));
  const b = tf.layers.dense({units: 32, activation: 'elu', kernelInitializer: init(2), name: 'branch'}).apply(h);
  const s = tf.layers.add({name: 'residual'}).apply([h, b]);
  const shared = tf.layers.dense({units: 16, activation: 'tanh', kernelInitializer: init(3), name: 'shared'});
  const c = tf.layers.concatenate({name: 'both'}).apply([shared.apply(s), shared.apply(h)]);
  const y = tf.layers.dense({units: 10, activation: 'softmax', kernelInitializer: init(4), name: 'out'}).apply(c);
  return tf.model({inputs: x, outputs: y, name: 'tfjs_functional'});
}

async function make(build, dir, xPath, predPath) {
  tf.util.seedrandom?.('keel');  // not all builds export it; initializers below are seeded anyway
  const init = (seed) => tf.initializers.glorotUniform({seed});
  const model = build(init);
  model.compile({optimizer: tf.train.sgd(0.05), loss: 'sparseCategoricalCrossentropy'});
  // Deterministic pseudo-random training data (LCG), inputs in [0, 1) like scaled pixels.
  let state = 12345;
  const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const n = 128;
  const xs = new Float32Array(n * 28 * 28).map(() => rand());
  const ys = new Float32Array(n).map(() => Math.floor(rand() * 10));
  await model.fit(tf.tensor(xs, [n, 28, 28]), tf.tensor(ys, [n, 1]),
                  {epochs: 5, batchSize: 32, shuffle: false, verbose: 0});
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    fs.mkdirSync(dir, {recursive: true});
    fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.from(artifacts.weightData));
    const modelJSON = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs}],
    };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJSON));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  const x = readNpy(xPath);
  const y = model.predict(tf.tensor(x.data, x.shape));
  writeNpy(predPath, y.shape, await y.data());
  console.log(`tfjs built, trained and saved ${dir}; predictions ${y.shape} -> ${predPath}`);
}

const [mode, ...args] = process.argv.slice(2);
const modes = {
  'load': load,
  'make': (...a) => make(sequentialModel, ...a),
  'make-functional': (...a) => make(functionalModel, ...a),
};
const run = modes[mode];
if (!run || args.length !== 3) {
  console.error('usage: tfjs_roundtrip.js load|make|make-functional DIR X.npy PRED.npy');
  process.exit(2);
}
run(...args).catch((e) => { console.error(`FAIL: ${e.stack || e}`); process.exit(1); });
