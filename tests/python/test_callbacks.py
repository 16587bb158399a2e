"""Python callbacks called from the C++ training loop; exceptions and Ctrl-C reach the caller."""
import os
import signal
import threading

import numpy as np
import pytest

from test_api import blobs, small_model


def compiled(keras):
    model = small_model(keras)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_callback_sees_every_hook_with_logs(keras):
    events = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", self.params["epochs"], self.params["steps"]))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch_end", batch))

        def on_train_end(self, logs=None):
            events.append(("train_end", sorted(logs)))  # Keras: the last epoch's logs

    x, y = blobs(64)
    compiled(keras).fit(x, y, batch_size=16, epochs=2, validation_split=0.25, callbacks=[Recorder()], verbose=0)
    assert events[0] == ("train_begin", 2, 3)
    assert [e for e in events if e[0] == "batch_end"] == [("batch_end", b) for b in (0, 1, 2)] * 2
    assert events[-2] == ("epoch_end", 1, ["accuracy", "loss", "val_accuracy", "val_loss"])
    assert events[-1] == ("train_end", ["accuracy", "loss", "val_accuracy", "val_loss"])


def test_callback_stops_training(keras):
    class StopAfterThree(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.stop_training = True

    x, y = blobs()
    model = compiled(keras)
    history = model.fit(x, y, batch_size=32, epochs=5, callbacks=[StopAfterThree()], verbose=0)
    assert model.optimizer.iterations == 3
    assert history.epoch == [0]


def test_exception_in_callback_reaches_the_caller_and_model_stays_usable(keras):
    class Boom(RuntimeError):
        pass

    def explode(epoch, logs):
        raise Boom(f"epoch {epoch}")

    x, y = blobs()
    model = compiled(keras)
    with pytest.raises(Boom, match="epoch 0"):
        model.fit(x, y, epochs=3, callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=explode)], verbose=0)
    assert model.optimizer.iterations == 8  # the first epoch completed
    assert np.isfinite(model.predict(x, verbose=0)).all()
    model.fit(x, y, epochs=1, verbose=0)  # and trains again
    assert model.optimizer.iterations == 16


def test_ctrl_c_stops_fit_after_a_batch_with_keyboard_interrupt(keras):
    x = np.random.default_rng(0).normal(size=(20000, 4, 2)).astype(np.float32)
    y = np.zeros(20000, np.uint8)
    model = compiled(keras)
    steps = 100 * len(x) // 32
    stop = threading.Event()

    def press_ctrl_c_once_training_runs():
        # The optimizer's step count is read while fit holds no GIL: wait for 50 steps, so the
        # signal arrives in the middle of fit even on a loaded machine.
        while not stop.is_set() and model.optimizer.iterations < 50:
            stop.wait(0.001)
        if not stop.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    # Python leaves SIGINT ignored when it starts with it ignored (a background job of a shell
    # without job control, as CI may run us): install the interactive handler for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press_ctrl_c_once_training_runs, daemon=True)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, batch_size=32, epochs=100, verbose=0)
    finally:
        stop.set()
        presser.join()
        signal.signal(signal.SIGINT, previous)
    done = model.optimizer.iterations
    assert 50 <= done < steps
    assert np.isfinite(model.predict(x[:10], verbose=0)).all()


def test_ctrl_c_stops_predict_after_a_batch(keras):
    import time
    model = compiled(keras)
    probe = np.zeros((20000, 4, 2), np.float32)
    start = time.perf_counter()
    model.predict(probe, batch_size=1, verbose=0)
    per_sample = (time.perf_counter() - start) / len(probe)
    n = int(min(4e6, 4.0 / per_sample))  # about 4 s of batch-1 predict whatever the machine's speed
    x = np.zeros((n, 4, 2), np.float32)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        start = time.perf_counter()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            model.predict(x, batch_size=1, verbose=0)
        elapsed = time.perf_counter() - start
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert elapsed < 0.5 * n * per_sample, (elapsed, n * per_sample)


def test_builtin_callbacks_run_in_cpp(keras, tmp_path):
    x, y = blobs()
    model = compiled(keras)
    history = model.fit(x, y, epochs=30, validation_split=0.25, verbose=0, callbacks=[
        keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0),
        keras.callbacks.CSVLogger(tmp_path / "log.csv"),
        keras.callbacks.TensorBoard(tmp_path / "logs"),
    ])
    # min_delta 10 means no epoch improves enough: EarlyStopping stops after the second epoch.
    assert history.epoch == [0, 1]
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 3
    assert any((tmp_path / "logs" / "train").iterdir())


def test_other_python_threads_run_while_fit_computes(keras):
    # fit releases the GIL: a Python thread keeps running during it. (Were the GIL held, the
    # thread could not execute a line between fit's start and end.)
    import time
    x = np.random.default_rng(0).normal(size=(20000, 4, 2)).astype(np.float32)
    y = np.zeros(20000, np.uint8)
    model = compiled(keras)
    ticks, stop = [], threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    # Enough epochs for about a second of fit whatever the machine's speed (20 fixed epochs took
    # 0.19 s on a quiet machine once, too short to tell).
    t0 = time.monotonic()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    epochs = min(2000, max(20, int(1.0 / max(time.monotonic() - t0, 1e-4))))
    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        time.sleep(0.05)
        start = time.monotonic()
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
        end = time.monotonic()
    finally:
        stop.set()
        thread.join()
    assert end - start > 0.2, "fit was too short to tell"
    inside = [t for t in ticks if start + 0.05 < t < end - 0.05]
    assert len(inside) > 20, f"only {len(inside)} ticks of the other thread during {end - start:.2f} s of fit"


def test_early_stopping_message_appears_when_it_stops(keras, capsys):
    x, y = blobs()
    compiled(keras).fit(x, y, epochs=5, verbose=0, callbacks=[
        keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0, verbose=1)])
    assert "Epoch 2: early stopping" in capsys.readouterr().out


def test_on_batch_end_is_called_through_on_train_batch_end_as_in_keras(keras):
    calls = []

    class Legacy(keras.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            calls.append(batch)

    x, y = blobs(64)
    compiled(keras).fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Legacy()])
    assert calls == [0, 1]
