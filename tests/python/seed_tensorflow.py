# The seed's Keras code (../shared/reference/seed-material.md, Hands-On ML ch. 11.1.3-11.1.4) as
# written for TensorFlow. test_seed.py runs it with its TensorFlow import line replaced by keel's
# (`from keel import keras`) and nothing else changed; the lines after the seed's code print what
# the test checks and train on Fashion-MNIST.
from tensorflow import keras

model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=[28, 28]),
    keras.layers.BatchNormalization(),
    keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
    keras.layers.BatchNormalization(),
    keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
    keras.layers.BatchNormalization(),
    keras.layers.Dense(10, activation="softmax")
])
model.summary()

print([(var.name, var.trainable) for var in model.layers[1].variables])

model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=[28, 28]),
    keras.layers.BatchNormalization(),
    keras.layers.Dense(300, kernel_initializer="he_normal", use_bias=False),
    keras.layers.BatchNormalization(),
    keras.layers.Activation("elu"),
    keras.layers.Dense(100, kernel_initializer="he_normal", use_bias=False),
    keras.layers.BatchNormalization(),
    keras.layers.Activation("elu"),
    keras.layers.Dense(10, activation="softmax")
])

optimizer = keras.optimizers.SGD(clipvalue=1.0)
model.compile(loss="mse", optimizer=optimizer)

# --- after the seed's code: train on Fashion-MNIST as the chapter's models are trained ---
(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
history = model.fit(x_train[:5000], y_train[:5000], epochs=1, verbose=0)
print("loss", history.history["loss"][0])
