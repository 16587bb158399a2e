#!/usr/bin/python3
"""Golden model.summary() texts and Keras JSON configs for keel's summary / model_config tests.

Writes tests/data/configs/<model>.json (Keras `model.to_json()` text, or a TF.js model.json) and
tests/data/summary/<model>.txt (what tf.keras 2.11 `model.summary()` prints for that model).

The summary text is produced by `print_summary` below, a transcription of the sequential-like path
of `print_summary` / `print_row` in keras-team/keras v2.11.0 keras/utils/layer_utils.py (tag
v2.11.0, commit e6784e43..., see /work/shared/reference/keras-semantics.md 4.1 (b)); the layer rows
(output shapes, parameter counts, trainable / non-trainable split) come from `describe`, an
independent re-implementation of Keras shape inference and weight creation for the five layer
classes keel supports. Nothing here reads keel's output.

Checks made on every run (the script fails if one breaks):
  * the two seed models reproduce /work/shared/reference/summary-seed-mlp*.txt byte for byte;
  * for the TF.js model, when node and @tensorflow/tfjs are available (TFJS_DIR, default
    /tmp/tfjs-summary), tfjs itself writes the model.json and its own summary's Total /
    Trainable / Non-trainable counts must equal ours.

Run: /usr/bin/python3 tools/golden/summary_keras.py   (from the repository root)
"""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "data" / "configs"
SUMMARIES = ROOT / "tests" / "data" / "summary"
REFERENCE = pathlib.Path("/work/shared/reference")


# --------------------------------------------------------------------------------------------
# Transcription of keras v2.11.0 keras/utils/layer_utils.py print_summary, for the sequential-like
# branch (model.__class__.__name__ == "Sequential"), show_trainable=False, expand_nested=False,
# layer_range=None. `model` is a ModelDescription (below) standing in for the Keras model.
# --------------------------------------------------------------------------------------------
def keras_print_row(fields, positions, nested_level=0, print_fn=print):
    # print_row, hoisted out of print_summary (where it is a closure over print_fn) so the
    # row fixtures can call it directly; the body is unchanged.
    left_to_print = [str(x) for x in fields]
    while any(left_to_print):
        line = ""
        for col in range(len(left_to_print)):
            if col > 0:
                start_pos = positions[col - 1]
            else:
                start_pos = 0
            end_pos = positions[col]
            # Leave room for 2 spaces to delineate columns
            # we don't need any if we are printing the last column
            space = 2 if col != len(positions) - 1 else 0
            cutoff = end_pos - start_pos - space
            fit_into_line = left_to_print[col][:cutoff]
            # For nicer formatting we line-break on seeing end of
            # tuple/dict etc.
            line_break_conditions = ("),", "},", "],", "',")
            candidate_cutoffs = [
                fit_into_line.find(x) + len(x)
                for x in line_break_conditions
                if fit_into_line.find(x) >= 0
            ]
            if candidate_cutoffs:
                cutoff = min(candidate_cutoffs)
                fit_into_line = fit_into_line[:cutoff]

            if col == 0:
                line += "|" * nested_level + " "
            line += fit_into_line
            line += " " * space if space else ""
            left_to_print[col] = left_to_print[col][cutoff:]

            # Pad out to the next position
            if nested_level:
                line += " " * (positions[col] - len(line) - nested_level)
            else:
                line += " " * (positions[col] - len(line))
        line += "|" * nested_level
        print_fn(line)


def print_summary(model, line_length=None, positions=None, print_fn=print):
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    # header names for the different log elements
    to_display = ["Layer (type)", "Output Shape", "Param #"]

    def print_row(fields, positions, nested_level=0):
        keras_print_row(fields, positions, nested_level, print_fn)

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_row(to_display, positions)
    print_fn("=" * line_length)

    def print_layer_summary(layer, nested_level=0):
        output_shape = layer.output_shape
        name = layer.name
        cls_name = layer.class_name  # Keras: layer.__class__.__name__
        params = layer.count_params()
        fields = [name + " (" + cls_name + ")", output_shape, params]
        print_row(fields, positions, nested_level)

    def print_layer(layer, nested_level=0, is_nested_last=False):
        print_layer_summary(layer, nested_level)
        if not is_nested_last:
            print_fn(
                "|" * nested_level
                + " " * (line_length - 2 * nested_level)
                + "|" * nested_level
            )

    for layer in model.layers:
        print_layer(layer)
    print_fn("=" * line_length)

    trainable_count = count_params(model.trainable_weights)
    non_trainable_count = count_params(model.non_trainable_weights)

    print_fn("Total params: {:,}".format(trainable_count + non_trainable_count))
    print_fn("Trainable params: {:,}".format(trainable_count))
    print_fn("Non-trainable params: {:,}".format(non_trainable_count))
    print_fn("_" * line_length)


def count_params(weights):
    # layer_utils.count_params without the id() de-duplication (no shared weights here).
    return int(sum(math.prod(shape) for shape in weights))


# --------------------------------------------------------------------------------------------
# Independent description of a Sequential from its JSON config: Keras shape inference and weight
# creation for Flatten / Dense / Activation / Dropout / BatchNormalization.
# --------------------------------------------------------------------------------------------
class LayerDescription:
    def __init__(self, name, class_name, output_shape, weights):
        self.name = name
        self.class_name = class_name
        self.output_shape = output_shape  # a Python tuple; str() gives Keras's text
        self.weights = weights            # [(shape tuple, trainable)]

    def count_params(self):
        return count_params([w for w, _ in self.weights])


class ModelDescription:
    def __init__(self, name, layers):
        self.name = name
        self.layers = layers

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w, t in layer.weights if t]

    @property
    def non_trainable_weights(self):
        return [w for layer in self.layers for w, t in layer.weights if not t]


def sequential_config(document):
    """The {"name", "layers"} config of a to_json() text or of a TF.js model.json / topology."""
    if "modelTopology" in document:
        document = document["modelTopology"]
    if "model_config" in document:
        document = document["model_config"]
    assert document["class_name"] == "Sequential", document["class_name"]
    config = document["config"]
    if isinstance(config, list):  # Keras < 2.2.3 / old converters: the bare list of layers
        return {"name": "sequential", "layers": config}
    return config


def describe(document):
    config = sequential_config(document)
    layer_configs = config["layers"]
    shape = None
    if layer_configs and layer_configs[0]["class_name"] == "InputLayer":
        shape = tuple(layer_configs[0]["config"]["batch_input_shape"])
        layer_configs = layer_configs[1:]
    elif "batch_input_shape" in layer_configs[0]["config"]:
        shape = tuple(layer_configs[0]["config"]["batch_input_shape"])
    assert shape is not None, "no input shape"
    layers = []
    for entry in layer_configs:
        kind, c = entry["class_name"], entry["config"]
        trainable = c.get("trainable", True)
        weights = []
        if kind == "Flatten":
            shape = (shape[0], math.prod(shape[1:]))
        elif kind == "Dense":
            weights.append(((shape[-1], c["units"]), True))
            if c.get("use_bias", True):
                weights.append(((c["units"],), True))
            shape = shape[:-1] + (c["units"],)
        elif kind == "BatchNormalization":
            axis = c.get("axis", -1)
            axis = axis[0] if isinstance(axis, list) else axis
            channels = shape[axis]
            if c.get("scale", True):
                weights.append(((channels,), True))   # gamma
            if c.get("center", True):
                weights.append(((channels,), True))   # beta
            weights.append(((channels,), False))      # moving_mean
            weights.append(((channels,), False))      # moving_variance
        elif kind in ("Activation", "Dropout"):
            pass
        else:
            raise ValueError(f"unsupported layer class {kind}")
        # A frozen layer reports every weight as non-trainable (Layer.trainable_weights == []).
        weights = [(w, t and trainable) for w, t in weights]
        layers.append(LayerDescription(c["name"], kind, shape, weights))
    return ModelDescription(config["name"], layers)


def summary_text(document):
    lines = []
    print_summary(describe(document), print_fn=lines.append)
    return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------------------------
# tf.keras 2.11 get_config() / to_json() layouts.
# --------------------------------------------------------------------------------------------
def initializer(class_name, **config):
    return {"class_name": class_name, "config": config}


GLOROT_UNIFORM = initializer("GlorotUniform", seed=None)
HE_NORMAL = initializer("HeNormal", seed=None)
ZEROS = initializer("Zeros")
ONES = initializer("Ones")


def base(name, trainable=True, input_shape=None):
    config = {"name": name, "trainable": trainable}
    if input_shape is not None:
        config["batch_input_shape"] = [None] + list(input_shape)
    config["dtype"] = "float32"
    return config


def flatten(name, input_shape=None, trainable=True):
    config = base(name, trainable, input_shape)
    config["data_format"] = "channels_last"
    return {"class_name": "Flatten", "config": config}


def dense(name, units, activation="linear", use_bias=True, kernel_initializer=GLOROT_UNIFORM,
          input_shape=None, trainable=True):
    config = base(name, trainable, input_shape)
    config.update({
        "units": units, "activation": activation, "use_bias": use_bias,
        "kernel_initializer": kernel_initializer, "bias_initializer": ZEROS,
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None})
    return {"class_name": "Dense", "config": config}


def batch_normalization(name, trainable=True, axis=(1,), momentum=0.99, epsilon=0.001):
    # A built layer reports the validated axis list ([1] for a rank-2 input).
    config = base(name, trainable)
    config.update({
        "axis": list(axis) if isinstance(axis, tuple) else axis, "momentum": momentum,
        "epsilon": epsilon, "center": True, "scale": True,
        "beta_initializer": ZEROS, "gamma_initializer": ONES,
        "moving_mean_initializer": ZEROS, "moving_variance_initializer": ONES,
        "beta_regularizer": None, "gamma_regularizer": None,
        "beta_constraint": None, "gamma_constraint": None})
    return {"class_name": "BatchNormalization", "config": config}


def activation(name, function):
    config = base(name)
    config["activation"] = function
    return {"class_name": "Activation", "config": config}


def dropout(name, rate, trainable=True):
    config = base(name, trainable)
    config.update({"rate": rate, "noise_shape": None, "seed": None})
    return {"class_name": "Dropout", "config": config}


def to_json(name, layers, input_shape, keras_version="2.11.0", input_layer=True):
    """tf.keras Sequential.to_json(): InputLayer first (tf.keras >= 2.5) unless input_layer=False."""
    entries = []
    if input_layer:
        entries.append({"class_name": "InputLayer", "config": {
            "batch_input_shape": [None] + list(input_shape), "dtype": "float32",
            "sparse": False, "ragged": False, "name": layers[0]["config"]["name"] + "_input"}})
    entries += layers
    return {"class_name": "Sequential", "config": {"name": name, "layers": entries},
            "keras_version": keras_version, "backend": "tensorflow"}


# --------------------------------------------------------------------------------------------
# The models.
# --------------------------------------------------------------------------------------------
def seed_mlp():
    return to_json("sequential", [
        flatten("flatten", input_shape=[28, 28]),
        batch_normalization("batch_normalization"),
        dense("dense", 300, "elu", kernel_initializer=HE_NORMAL),
        batch_normalization("batch_normalization_1"),
        dense("dense_1", 100, "elu", kernel_initializer=HE_NORMAL),
        batch_normalization("batch_normalization_2"),
        dense("dense_2", 10, "softmax"),
    ], [28, 28])


def seed_mlp_bn_before():
    return to_json("sequential", [
        flatten("flatten", input_shape=[28, 28]),
        batch_normalization("batch_normalization"),
        dense("dense", 300, kernel_initializer=HE_NORMAL, use_bias=False),
        batch_normalization("batch_normalization_1"),
        activation("activation", "elu"),
        dense("dense_1", 100, kernel_initializer=HE_NORMAL, use_bias=False),
        batch_normalization("batch_normalization_2"),
        activation("activation_1", "elu"),
        dense("dense_2", 10, "softmax"),
    ], [28, 28])


def cell_name(width, suffix):
    """A layer name whose "name (Class)" cell is exactly `width` characters."""
    name = f"cell_of_{width}_chars_"
    return name + "x" * (width - len(suffix) - len(name))


def long_names():
    # Cell widths around column 0's cutoff of 27: 26 fits, 27 fits but pushes the shape column one
    # character right, 28 wraps one character; 51 wraps onto 2 lines, 71 onto 3.
    return to_json("a_model_with_rather_long_layer_names", [
        flatten("input_pixels_flattened_for_the_classifier", input_shape=[28, 28]),  # 51
        dense("first_hidden_layer_with_three_hundred_units_and_elu", 300, "elu",
              kernel_initializer=HE_NORMAL),                                             # 60
        batch_normalization("batch_normalization_after_the_first_hidden_layer_of_it"),   # 75
        dense(cell_name(26, " (Dense)"), 64, "relu"),
        dense(cell_name(27, " (Dense)"), 32, "relu"),
        dense(cell_name(28, " (Dense)"), 16, "relu"),
        activation("act_tanh_after_dense_with_quite_a_long_name", "tanh"),
        dense("output_probabilities_over_the_ten_fashion_mnist_classes", 10, "softmax"),
    ], [28, 28])


def dropout_old_form():
    # tf.keras < 2.5 wrote no InputLayer: the input shape sits on the first layer.
    return to_json("sequential_dropout", [
        dense("dense", 256, "relu", input_shape=[784]),
        dropout("dropout", 0.5),
        dense("dense_1", 128, "relu"),
        dropout("dropout_after_second_dense", 0.2),
        dense("dense_2", 10, "softmax"),
    ], [784], keras_version="2.4.0", input_layer=False)


def frozen_bn():
    return to_json("sequential_frozen_bn", [
        flatten("flatten", input_shape=[28, 28]),
        batch_normalization("batch_normalization", trainable=False),
        dense("dense", 300, "elu", kernel_initializer=HE_NORMAL),
        batch_normalization("batch_normalization_1"),
        dense("dense_1", 100, "elu", kernel_initializer=HE_NORMAL),
        batch_normalization("batch_normalization_2", trainable=False),
        dense("dense_2", 10, "softmax"),
    ], [28, 28])


def large_counts():
    return to_json("sequential_large", [
        flatten("flatten", input_shape=[28, 28]),
        dense("dense", 4096, "relu"),                 # 3,215,360
        dense("dense_1", 2048, "relu"),               # 8,390,656
        batch_normalization("batch_normalization"),   # 8,192
        dense("dense_2", 10, "softmax"),
    ], [28, 28])


def legacy_list_topology():
    # A tensorflowjs_converter model.json of an old Keras model: modelTopology.model_config with
    # "config" as the bare list of layers (no model name: Keras names it "sequential").
    layers = [
        dense("dense", 32, "relu", input_shape=[8]),
        dense("dense_1", 1, "sigmoid"),
    ]
    return {"format": "layers-model", "generatedBy": "keras v2.1.6",
            "convertedBy": "TensorFlow.js Converter v1.7.0",
            "modelTopology": {"keras_version": "2.1.6", "backend": "tensorflow",
                              "model_config": {"class_name": "Sequential", "config": layers},
                              "training_config": {"loss": "binary_crossentropy",
                                                  "metrics": ["accuracy"]}},
            "weightsManifest": []}


TFJS_SCRIPT = r"""
const tf = require('@tensorflow/tfjs');
const model = tf.sequential({name: 'tfjs_sequential'});
model.add(tf.layers.flatten({inputShape: [28, 28]}));
model.add(tf.layers.dense({units: 64, activation: 'relu', name: 'hidden'}));
model.add(tf.layers.batchNormalization({trainable: false}));
model.add(tf.layers.dropout({rate: 0.25}));
model.add(tf.layers.dense({units: 10, activation: 'softmax'}));
(async () => {
  await model.save(tf.io.withSaveHandler(async (a) => {
    process.stdout.write(JSON.stringify({format: a.format, generatedBy: a.generatedBy,
        convertedBy: a.convertedBy, modelTopology: a.modelTopology,
        weightsManifest: [{paths: ['weights.bin'], weights: a.weightSpecs}]}) + '\n');
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }));
  model.summary(65, [.45, .85, 1.], (line) => process.stderr.write(line + '\n'));
})();
"""


def tfjs_model():
    """A real @tensorflow/tfjs 4.22.0 model.json (frozen BN, Dropout, tfjs default names)."""
    target = CONFIGS / "tfjs_frozen_bn.json"
    tfjs_dir = pathlib.Path(os.environ.get("TFJS_DIR", "/tmp/tfjs-summary"))
    if not (tfjs_dir / "node_modules" / "@tensorflow" / "tfjs").exists():
        print(f"note: no tfjs under {tfjs_dir}; keeping the committed {target.name}")
        return json.loads(target.read_text())
    run = subprocess.run(["node", "-e", TFJS_SCRIPT], cwd=tfjs_dir, capture_output=True,
                         text=True, check=True)
    document = json.loads(run.stdout)
    # tfjs's own (old-layout) summary footer must agree with our counting.
    counts = dict(re.findall(r"^(Total|Trainable|Non-trainable) params: (\d+)$", run.stderr, re.M))
    model = describe(document)
    trainable = count_params(model.trainable_weights)
    non_trainable = count_params(model.non_trainable_weights)
    assert counts == {"Total": str(trainable + non_trainable), "Trainable": str(trainable),
                      "Non-trainable": str(non_trainable)}, (counts, trainable, non_trainable)
    return document


MODELS = {
    "seed_mlp": seed_mlp,
    "seed_mlp_bn_before": seed_mlp_bn_before,
    "long_names": long_names,
    "dropout_old_form": dropout_old_form,
    "frozen_bn": frozen_bn,
    "large_counts": large_counts,
    "legacy_list_topology": legacy_list_topology,
    "tfjs_frozen_bn": tfjs_model,
}

REFERENCES = {
    "seed_mlp": "summary-seed-mlp.txt",
    "seed_mlp_bn_before": "summary-seed-mlp-bn-before.txt",
}


# Single rows for the formatter's unit test: early breaks after "),", "},", "],", "',", cells that
# fill a column exactly, an empty cell, a last column longer than its 10 characters.
ROWS = [
    ["dense (Dense)", "(None, 300)", "235500"],
    ["x" * 26, "y" * 23, "z" * 9],
    ["x" * 27, "y" * 24, "z" * 10],
    ["x" * 28, "y" * 25, "z" * 11],
    ["concat (Concatenate)", "[(None, 10), (None, 20), (None, 30)]", "0"],
    ["odd),name (Dense)", "{'a': 1},{'b': 2}", "7"],
    ["quoted', (Lambda)", "[[1], [2]],[3]", "0 (unused)"],
    ["", "(None, 784)", ""],
    ["a" * 100, "(None, 28, 28, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)", "123456789012345678"],
]


def row_fixtures():
    cases = []
    for fields in ROWS:
        lines = []
        keras_print_row(fields, [29, 55, 65], print_fn=lines.append)
        cases.append({"fields": fields, "text": "".join(line + "\n" for line in lines)})
    return cases


def main():
    CONFIGS.mkdir(parents=True, exist_ok=True)
    SUMMARIES.mkdir(parents=True, exist_ok=True)
    (SUMMARIES / "rows.json").write_text(json.dumps(row_fixtures(), indent=1) + "\n")
    for stem, build in MODELS.items():
        document = build()
        text = summary_text(document)
        if stem in REFERENCES:
            expected = (REFERENCE / REFERENCES[stem]).read_text()
            assert text == expected, f"{stem}: transcription does not reproduce {REFERENCES[stem]}"
        (CONFIGS / f"{stem}.json").write_text(json.dumps(document) + "\n")
        (SUMMARIES / f"{stem}.txt").write_text(text)
        print(f"wrote {stem}: {len(text.splitlines())} summary lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
