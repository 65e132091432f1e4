"""keras-io guide "Working with RNNs" (keras.io/guides/working_with_rnns), with its imports
changed: the built-in layers (LSTM, GRU, SimpleRNN), outputs and states (an encoder-decoder
with ``return_state`` / ``initial_state``), RNN layers and cells, cross-batch statefulness and
state reuse, bidirectional RNNs, and the "performance" section's fused ``LSTM`` against
``RNN(LSTMCell)`` with the same weights.

Differences, each marked ``# rnnkit:`` on its line: MNIST (downloaded by the guide) is not on
this machine, so the performance section reads scikit-learn's bundled handwritten digits
(1,797 real 8x8 images, scaled to MNIST's 0-255; rows are the time steps, as MNIST's 28);
the guide's three TensorFlow calls in that section (``tf.device("CPU:0")``, ``tf.argmax``,
``tf.expand_dims``) become plain code / NumPy. The guide's last section (a nested-structure
cell written with ``tf.nest`` / ``tf.TensorShape``) is TensorFlow code and is not run.

Full size: ``python benchmarks/keras_io/working_with_rnns.py``.
"""

# The example's code as keras.io writes it (its style is kept, not ruff's):
# ruff: noqa: UP031

import numpy as np
from sklearn.datasets import load_digits  # rnnkit: data (MNIST stand-in)

import rnnkit as keras  # was: import keras
from rnnkit import layers  # was: from keras import layers

model = keras.Sequential()
# Add an Embedding layer expecting input vocab of size 1000, and
# output embedding dimension of size 64.
model.add(layers.Embedding(input_dim=1000, output_dim=64))

# Add a LSTM layer with 128 internal units.
model.add(layers.LSTM(128))

# Add a Dense layer with 10 units.
model.add(layers.Dense(10))

model.summary()

model = keras.Sequential()
model.add(layers.Embedding(input_dim=1000, output_dim=64))

# The output of GRU will be a 3D tensor of shape (batch_size, timesteps, 256)
model.add(layers.GRU(256, return_sequences=True))

# The output of SimpleRNN will be a 2D tensor of shape (batch_size, 128)
model.add(layers.SimpleRNN(128))

model.add(layers.Dense(10))

model.summary()

encoder_vocab = 1000
decoder_vocab = 2000

encoder_input = layers.Input(shape=(None,))
encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)

# Return states in addition to output
output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(encoder_embedded)
encoder_state = [state_h, state_c]

decoder_input = layers.Input(shape=(None,))
decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)

# Pass the 2 states to a new LSTM layer, as initial state
decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
output = layers.Dense(10)(decoder_output)

model = keras.Model([encoder_input, decoder_input], output)
model.summary()

paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)

lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
output = lstm_layer(paragraph3)

# reset_states() will reset the cached state to the original initial_state.
# If no initial_state was provided, zero-states will be used by default.
lstm_layer.reset_states()

paragraph1 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph2 = np.random.random((20, 10, 50)).astype(np.float32)
paragraph3 = np.random.random((20, 10, 50)).astype(np.float32)

lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)

existing_state = lstm_layer.states

new_lstm_layer = layers.LSTM(64)
new_output = new_lstm_layer(paragraph3, initial_state=existing_state)

model = keras.Sequential()
model.add(layers.Input(shape=(5, 10)))
model.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True)))
model.add(layers.Bidirectional(layers.LSTM(32)))
model.add(layers.Dense(10))

model.summary()

batch_size = 64
# Each MNIST image batch is a tensor of shape (batch_size, 28, 28).
# Each input sequence will be of size (28, 28) (height is treated like time).
input_dim = 8  # rnnkit: data (was 28: the digits are 8x8)

units = 64
output_size = 10  # labels are from 0 to 9


# Build the RNN model
def build_model(allow_cudnn_kernel=True):
    # CuDNN is only available at the layer level, and not at the cell level.
    # This means `LSTM(units)` will use the CuDNN kernel,
    # while RNN(LSTMCell(units)) will run on non-CuDNN kernel.
    if allow_cudnn_kernel:
        # The LSTM layer with default options uses CuDNN.
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        # Wrapping a LSTMCell in a RNN layer will not use CuDNN.
        lstm_layer = keras.layers.RNN(keras.layers.LSTMCell(units), input_shape=(None, input_dim))
    model = keras.models.Sequential(
        [
            lstm_layer,
            keras.layers.BatchNormalization(),
            keras.layers.Dense(output_size),
        ]
    )
    return model


digits = load_digits()  # rnnkit: data (was mnist = keras.datasets.mnist)
images, labels = digits.images * (255.0 / 16.0), digits.target  # rnnkit: data (as MNIST's 0-255)
# rnnkit: data (the next two lines were `(x_train, y_train), (x_test, y_test) = mnist.load_data()`)
x_train, y_train = images[:1500], labels[:1500]
x_test, y_test = images[1500:], labels[1500:]

x_train, x_test = x_train / 255.0, x_test / 255.0
sample, sample_label = x_train[0], y_train[0]

model = build_model(allow_cudnn_kernel=True)

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)


model.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1)

noncudnn_model = build_model(allow_cudnn_kernel=False)
noncudnn_model.set_weights(model.get_weights())
noncudnn_model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)
noncudnn_model.fit(
    x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1
)

if True:  # rnnkit: was `with tf.device("CPU:0"):` (rnnkit runs on the CPU here)
    cpu_model = build_model(allow_cudnn_kernel=True)
    cpu_model.set_weights(model.get_weights())
    # rnnkit: was tf.argmax(cpu_model.predict_on_batch(tf.expand_dims(sample, 0)), axis=1)
    result = np.argmax(cpu_model.predict_on_batch(np.expand_dims(sample, 0)), axis=1)
    # rnnkit: was result.numpy() (a TensorFlow tensor there, a NumPy array here)
    print("Predicted result is: %s, target result is: %s" % (result, sample_label))
