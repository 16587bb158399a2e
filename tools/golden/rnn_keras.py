#!/work/venvs/tf/bin/python
"""Golden fixtures for keel's recurrent layers, produced by REAL TensorFlow / tf.keras 2.12.

Everything written here is output of tf.keras itself; nothing reads keel's output.

Writes into tests/data/rnn/:
  * layers.json -- per case: the layer's get_config() (after build), the input shape, the input
    x, the variables (Keras order and full names, values flattened row-major), one upstream
    gradient per output, every output (training=True call), and dx and every
    variable's gradient of L = sum_i sum(y_i * dy_i) (tf.GradientTape: backprop through time).
    Cases: SimpleRNN, LSTM and GRU (reset_after True and False) with return_sequences,
    go_backwards, return_state, use_bias=False, relu / hard_sigmoid activations, dropout and
    recurrent_dropout (Keras's random masks replaced by recorded ones, written as input_masks /
    recurrent_masks in the layouts Keras used them); Bidirectional
    (every merge_mode, None with return_state, a go_backwards layer inside); LayerNormalization
    (axis -1, [1, 2], and the non-trailing 1, [1, 3] and [1, 2] of a rank-4 input; epsilon 1e-5,
    scale / center off); Embedding (ids drawn with repeats).
  * seed_lstm.summary.txt / seed_lstm.json -- summary() and to_json() of the seed-lstm model
    (LSTM(128) on 28 rows of 28 pixels, then Dense(10, softmax)).
  * functional_states.json -- a functional model over an LSTM's return_state outputs (LSTM ->
    [sequence, h, c], GRU(go_backwards) on the sequence, Concatenate([h, c, gru]), Dense(2)):
    summary(), to_json(), three SGD steps (mse) and predict.
  * bidirectional_model.json -- the same for a Sequential of Bidirectional(LSTM(4) over
    sequences), Bidirectional(GRU(3), merge_mode="ave") and Dense(2).
  * bidirectional_names.json -- the variable names of two stacked Bidirectional(LSTM) layers.
  * training_20steps.json -- 20 x train_on_batch of a small LSTM model (LSTM(6) returning
    sequences, GRU(5), Dense(3, softmax)) under Adam(learning_rate=0.05, global_clipnorm=0.1)
    (the global norm starts near 0.3, so the clipping acts): initial weights, every batch, and
    after every step the loss and every variable, then predict on the last batch.
Ops run single-threaded on the CPU with op determinism.

Run (from the repository root):   /work/venvs/tf/bin/python tools/golden/rnn_keras.py
"""
import json

from keras_env import ROOT, flat, np, tf

OUT = ROOT / "tests" / "data" / "rnn"
L = tf.keras.layers


def short(v):
    """The name the tests look a gradient up by: "kernel", or with Bidirectional's direction and
    cell scope ("forward_lstm/lstm_cell_1/kernel"), which tell its two copies apart."""
    parts = v.name.split(":")[0].split("/")
    return "/".join(parts[-3:]) if parts[-3:][0].startswith(("forward_", "backward_")) else parts[-1]


def fix_dropout_masks(layer, rng):
    """Replaces Keras's random dropout masks by recorded ones (0 or 1/(1 - rate), drawn here once
    per call, as Keras draws them), so that keel can replay them. Keras asks for them in two
    places: the cell (a (batch, features) input mask and (batch, units) recurrent masks, reused
    at every timestep) and, on the fused LSTM/GRU path, the layer itself with the whole
    (batch, T, features) input. Returns what was drawn: {"input": [...], "recurrent": [...]}."""
    drawn = {}

    def getter(key, rate):
        def get(inputs, training, count=1):
            if rate == 0:
                return None  # as Keras: no mask
            if key not in drawn:
                shape = tuple(inputs.shape)
                drawn[key] = [((rng.uniform(size=shape) >= rate) / (1.0 - rate)).astype(np.float32)
                              for _ in range(count)]
            masks = [tf.constant(m) for m in drawn[key]]
            return masks if count > 1 else masks[0]
        return get

    cell = layer.cell
    layer.get_dropout_mask_for_cell = getter("input", cell.dropout)
    cell.get_dropout_mask_for_cell = getter("input", cell.dropout)
    cell.get_recurrent_dropout_mask_for_cell = getter("recurrent", cell.recurrent_dropout)
    return drawn


def used_masks(layer, drawn):
    """The masks Keras's computation used: every gate's with implementation 1 in the cell, else the
    first (the fused path and implementation 2 read dropout_mask[0] only)."""
    per_gate = getattr(layer.cell, "implementation", 1) == 1
    out = {}
    for key in ("input", "recurrent"):
        masks = drawn.get(key, [])
        if masks and not (per_gate and masks[0].ndim == 2):
            masks = masks[:1]
        out[key + "_masks"] = flat(np.stack(masks)) if masks else []
    return out


def run_case(name, make_layer, shape, seed, ids_below=None):
    tf.keras.backend.clear_session()
    rng = np.random.default_rng(seed)
    layer = make_layer()
    x = (rng.uniform(-1, 1, shape) if ids_below is None else rng.integers(0, ids_below, shape)).astype(np.float32)
    layer.build(shape)
    for v in layer.weights:
        v.assign(rng.uniform(-0.5, 0.5, v.shape).astype(np.float32))
    drops = getattr(layer, "dropout", 0) or getattr(layer, "recurrent_dropout", 0)
    drawn = fix_dropout_masks(layer, rng) if drops else None
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        ys = layer(xt, training=True)
        ys = ys if isinstance(ys, (list, tuple)) else [ys]
        dys = [rng.uniform(-1, 1, y.shape).astype(np.float32) for y in ys]
        loss = tf.add_n([tf.reduce_sum(y * dy) for y, dy in zip(ys, dys)])
    grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    # Embedding's table gradient comes as IndexedSlices (summed per row when made dense).
    grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
    case = {
        "name": name,
        "class_name": layer.__class__.__name__,
        "config": layer.get_config(),
        "input_shape": list(shape),
        "output_shapes": [list(y.shape) for y in ys],
        "x": flat(x),
        "weights": [{"name": v.name, "short": short(v), "shape": list(v.shape), "value": flat(v.numpy())}
                    for v in layer.weights],
        "dys": [flat(dy) for dy in dys],
        "ys": [flat(y) for y in ys],
        "dx": flat(grads[0] if grads[0] is not None else np.zeros(shape)),  # ids get no gradient
        "grads": {short(v): flat(g) for v, g in zip(layer.trainable_weights, grads[1:])},
    }
    if drawn is not None:
        case.update(used_masks(layer, drawn))
    return case


def layer_cases():
    shape = (3, 5, 4)  # batch, timesteps, features
    specs = [
        ("simple_rnn", L.SimpleRNN, dict(units=4)),
        ("simple_rnn_seq", L.SimpleRNN, dict(units=4, return_sequences=True)),
        ("simple_rnn_back_seq_state", L.SimpleRNN, dict(units=3, return_sequences=True, go_backwards=True,
                                                         return_state=True)),
        ("simple_rnn_relu_nobias", L.SimpleRNN, dict(units=4, activation="relu", use_bias=False)),
        ("lstm", L.LSTM, dict(units=4)),
        ("lstm_seq", L.LSTM, dict(units=4, return_sequences=True)),
        ("lstm_back", L.LSTM, dict(units=4, go_backwards=True)),
        ("lstm_state", L.LSTM, dict(units=3, return_state=True)),
        ("lstm_seq_state_back", L.LSTM, dict(units=3, return_sequences=True, return_state=True, go_backwards=True)),
        ("lstm_hard_sigmoid_nobias", L.LSTM, dict(units=4, recurrent_activation="hard_sigmoid", use_bias=False)),
        ("lstm_relu_no_forget_bias", L.LSTM, dict(units=4, activation="relu", unit_forget_bias=False)),
        ("gru", L.GRU, dict(units=4)),
        ("gru_seq", L.GRU, dict(units=4, return_sequences=True)),
        ("gru_back_state", L.GRU, dict(units=3, go_backwards=True, return_state=True)),
        ("gru_nobias", L.GRU, dict(units=4, use_bias=False)),
        ("gru_v1", L.GRU, dict(units=4, reset_after=False)),
        ("gru_v1_seq_back", L.GRU, dict(units=4, reset_after=False, return_sequences=True, go_backwards=True)),
        ("gru_v1_state_nobias", L.GRU, dict(units=3, reset_after=False, return_state=True, use_bias=False)),
        ("gru_v1_hard_sigmoid", L.GRU, dict(units=4, reset_after=False, recurrent_activation="hard_sigmoid")),
        # Dropout with recorded masks: the cell path (reused masks, per gate with implementation 1,
        # which recurrent_dropout forces) and the fused path (a fresh input mask per timestep).
        ("simple_rnn_drop_rdrop_seq", L.SimpleRNN, dict(units=4, dropout=0.3, recurrent_dropout=0.4,
                                                         return_sequences=True)),
        ("lstm_rdrop_seq", L.LSTM, dict(units=4, recurrent_dropout=0.3, return_sequences=True)),
        ("lstm_drop_rdrop_back_state", L.LSTM, dict(units=3, dropout=0.25, recurrent_dropout=0.5,
                                                     go_backwards=True, return_state=True)),
        ("lstm_drop_fused_back", L.LSTM, dict(units=4, dropout=0.3, go_backwards=True, return_sequences=True)),
        ("lstm_drop_relu_impl1", L.LSTM, dict(units=4, dropout=0.3, activation="relu", implementation=1)),
        ("lstm_drop_relu", L.LSTM, dict(units=4, dropout=0.3, activation="relu")),
        ("gru_drop_rdrop_seq", L.GRU, dict(units=4, dropout=0.2, recurrent_dropout=0.3, return_sequences=True)),
        ("gru_v1_drop_rdrop", L.GRU, dict(units=4, reset_after=False, dropout=0.2, recurrent_dropout=0.3)),
        ("gru_drop_fused", L.GRU, dict(units=3, dropout=0.3, return_sequences=True)),
    ]
    cases = [run_case(name, lambda cls=cls, kw=kw: cls(**kw), shape, 100 + i)
             for i, (name, cls, kw) in enumerate(specs)]
    norms = [
        ("layer_norm", (3, 5, 4), dict()),
        ("layer_norm_last_two", (3, 5, 4), dict(axis=[1, 2])),
        ("layer_norm_eps_1e-5_no_scale", (3, 5, 4), dict(epsilon=1e-5, scale=False)),
        ("layer_norm_2d_no_center", (3, 6), dict(axis=-1, center=False)),
        # Non-trailing axes: over time per feature, the outer and last of a rank-4 input, the middle two.
        ("layer_norm_axis_1", (3, 5, 4), dict(axis=1)),
        ("layer_norm_axes_1_3", (2, 3, 4, 5), dict(axis=[1, 3])),
        ("layer_norm_axes_1_2_of_4d", (2, 3, 4, 5), dict(axis=[1, 2], epsilon=1e-5)),
    ]
    cases += [run_case(name, lambda kw=kw: L.LayerNormalization(**kw), shp, 200 + i)
              for i, (name, shp, kw) in enumerate(norms)]
    bidis = [
        ("bidi_lstm", lambda: L.Bidirectional(L.LSTM(3))),
        ("bidi_lstm_seq_sum", lambda: L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")),
        ("bidi_gru_seq", lambda: L.Bidirectional(L.GRU(3, return_sequences=True))),
        ("bidi_simple_rnn_mul", lambda: L.Bidirectional(L.SimpleRNN(4), merge_mode="mul")),
        ("bidi_gru_v1_seq_ave", lambda: L.Bidirectional(L.GRU(3, reset_after=False, return_sequences=True),
                                                         merge_mode="ave")),
        ("bidi_lstm_none_state", lambda: L.Bidirectional(L.LSTM(3, return_state=True), merge_mode=None)),
        ("bidi_lstm_back_seq_mul", lambda: L.Bidirectional(L.LSTM(3, go_backwards=True, return_sequences=True),
                                                            merge_mode="mul")),
        ("bidi_gru_seq_state", lambda: L.Bidirectional(L.GRU(2, return_sequences=True, return_state=True))),
    ]
    cases += [run_case(name, make, shape, 400 + i) for i, (name, make) in enumerate(bidis)]
    cases.append(run_case("embedding", lambda: L.Embedding(7, 3), (3, 5), 300, ids_below=7))
    cases.append(run_case("embedding_input_length", lambda: L.Embedding(4, 2, input_length=6), (2, 6), 301,
                          ids_below=4))
    return cases


def seed_lstm():
    tf.keras.backend.clear_session()
    model = tf.keras.Sequential([
        L.LSTM(128, input_shape=(28, 28)),
        L.Dense(10, activation="softmax"),
    ])
    lines = []
    model.summary(print_fn=lines.append)
    (OUT / "seed_lstm.summary.txt").write_text("\n".join(lines) + "\n")
    (OUT / "seed_lstm.json").write_text(model.to_json())


def bidirectional_names():
    """Variable names of two wrapped LSTMs: Keras makes three cells per Bidirectional."""
    tf.keras.backend.clear_session()
    model = tf.keras.Sequential([
        L.Bidirectional(L.LSTM(2, return_sequences=True), input_shape=(3, 2)),
        L.Bidirectional(L.LSTM(2)),
    ])
    with open(OUT / "bidirectional_names.json", "w") as f:
        json.dump({"tensorflow": tf.__version__, "names": [v.name for v in model.weights]}, f)


def sgd_fixture(path, model, rng, x_shape, y_shape):
    """summary(), to_json(), three SGD steps (mse) from random weights, then predict."""
    lines = []
    model.summary(print_fn=lines.append)
    initial = {}
    for v in model.weights:
        v.assign(rng.uniform(-0.6, 0.6, v.shape).astype(np.float32))
        initial[v.name] = flat(v.numpy())
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    steps = []
    for _ in range(3):
        xb = rng.uniform(-1, 1, x_shape).astype(np.float32)
        yb = rng.uniform(-1, 1, y_shape).astype(np.float32)
        loss = model.train_on_batch(xb, yb)
        steps.append({"x": flat(xb), "y": flat(yb), "loss": float(loss),
                      "weights": {v.name: flat(v.numpy()) for v in model.weights}})
    with open(OUT / path, "w") as f:
        json.dump({"tensorflow": tf.__version__, "summary": "\n".join(lines) + "\n",
                   "config": json.loads(model.to_json()), "initial": initial, "steps": steps,
                   "predict": flat(model.predict(xb, verbose=0))}, f)


def functional_states():
    """A functional model that uses an LSTM's return_state outputs."""
    tf.keras.backend.clear_session()
    rng = np.random.default_rng(77)
    x = L.Input((6, 3))
    seq, h, c = L.LSTM(4, return_sequences=True, return_state=True)(x)
    g = L.GRU(3, go_backwards=True)(seq)
    y = L.Dense(2)(L.Concatenate()([h, c, g]))
    sgd_fixture("functional_states.json", tf.keras.Model(x, y), rng, (5, 6, 3), (5, 2))


def bidirectional_model():
    """Two stacked Bidirectional layers (concat over sequences, then ave) and Dense."""
    tf.keras.backend.clear_session()
    rng = np.random.default_rng(78)
    model = tf.keras.Sequential([
        L.Bidirectional(L.LSTM(4, return_sequences=True), input_shape=(6, 3)),
        L.Bidirectional(L.GRU(3), merge_mode="ave"),
        L.Dense(2),
    ])
    sgd_fixture("bidirectional_model.json", model, rng, (5, 6, 3), (5, 2))


def training():
    tf.keras.backend.clear_session()
    rng = np.random.default_rng(900)
    model = tf.keras.Sequential([
        L.LSTM(6, return_sequences=True, input_shape=(7, 4)),
        L.GRU(5),
        L.Dense(3, activation="softmax"),
    ])
    initial = {}
    for v in model.weights:
        v.assign(rng.uniform(-0.6, 0.6, v.shape).astype(np.float32))
        initial[v.name] = flat(v.numpy())
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.05, global_clipnorm=0.1),
                  loss="sparse_categorical_crossentropy")
    steps = []
    for _ in range(20):
        x = rng.uniform(-1, 1, (6, 7, 4)).astype(np.float32)
        y = rng.integers(0, 3, (6, 1)).astype(np.float32)
        loss = model.train_on_batch(x, y)
        steps.append({"x": flat(x), "y": flat(y), "loss": float(loss),
                      "weights": {v.name: flat(v.numpy()) for v in model.weights}})
    probs = model.predict(x, verbose=0)
    with open(OUT / "training_20steps.json", "w") as f:
        json.dump({"tensorflow": tf.__version__, "batch": 6, "initial": initial, "steps": steps,
                   "predict": flat(probs)}, f)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "layers.json", "w") as f:
        json.dump({"tensorflow": tf.__version__, "cases": layer_cases()}, f)
    seed_lstm()
    functional_states()
    bidirectional_model()
    bidirectional_names()
    training()
    print("wrote", OUT)


if __name__ == "__main__":
    main()
