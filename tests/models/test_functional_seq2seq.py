"""Keras's ``lstm_seq2seq`` example (keras.io/examples/nlp/lstm_seq2seq, Keras 3 version) with
only its imports changed (``import rnnkit as keras``), on a tiny one-hot dataset: the training
model (encoder LSTM with ``return_state``, decoder LSTM with ``initial_state``), ``fit`` for a
few steps, ``save`` / ``load_model``, then the inference encoder and decoder models built from
the loaded model's layers (shared weights) and the greedy decoding loop.

Oracles: the training model's output equals the decoder stepped one character at a time from
the encoder's states (teacher forcing = step-by-step decoding on the same characters), and a
hand-written torch.nn.LSTM encoder-decoder with the same weights.
"""

import numpy as np
import torch

import rnnkit as keras

# -- the data: a tiny character "translation" task ---------------------------------------------
input_texts = ["go", "hi", "run", "wow", "fire", "help"]
target_texts = ["\tva\n", "\tsalut\n", "\tcours\n", "\tca alors\n", "\tau feu\n", "\taide\n"]
input_characters = sorted({c for t in input_texts for c in t})
target_characters = sorted({c for t in target_texts for c in t})
num_encoder_tokens = len(input_characters)
num_decoder_tokens = len(target_characters)
max_encoder_seq_length = max(len(t) for t in input_texts)
max_decoder_seq_length = max(len(t) for t in target_texts)
input_token_index = {c: i for i, c in enumerate(input_characters)}
target_token_index = {c: i for i, c in enumerate(target_characters)}

encoder_input_data = np.zeros(
    (len(input_texts), max_encoder_seq_length, num_encoder_tokens), dtype="float32"
)
decoder_input_data = np.zeros(
    (len(input_texts), max_decoder_seq_length, num_decoder_tokens), dtype="float32"
)
decoder_target_data = np.zeros(
    (len(input_texts), max_decoder_seq_length, num_decoder_tokens), dtype="float32"
)
for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts)):
    for t, char in enumerate(input_text):
        encoder_input_data[i, t, input_token_index[char]] = 1.0
    encoder_input_data[i, t + 1 :, input_token_index["o"]] = 1.0
    for t, char in enumerate(target_text):
        decoder_input_data[i, t, target_token_index[char]] = 1.0
        if t > 0:
            decoder_target_data[i, t - 1, target_token_index[char]] = 1.0
    decoder_input_data[i, t + 1 :, target_token_index[" "]] = 1.0
    decoder_target_data[i, t:, target_token_index[" "]] = 1.0

latent_dim = 16
batch_size = 3
epochs = 3


def build_and_train(tmp_path):
    """The example's code, as keras.io has it, but for the sizes above."""
    # Define an input sequence and process it.
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)  # noqa: RUF059

    # We discard `encoder_outputs` and only keep the states.
    encoder_states = [state_h, state_c]

    # Set up the decoder, using `encoder_states` as initial state.
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))

    # We set up our decoder to return full output sequences,
    # and to return internal states as well. We don't use the
    # return states in the training model, but we will use them in inference.
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)

    # Define the model that will turn
    # `encoder_input_data` & `decoder_input_data` into `decoder_target_data`
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)

    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        [encoder_input_data, decoder_input_data],
        decoder_target_data,
        batch_size=batch_size,
        epochs=epochs,
        validation_split=0.2,
        verbose=0,
    )
    # Save model
    model.save(str(tmp_path / "s2s_model.keras"))
    return model, history


def inference_models(tmp_path):
    # Define sampling models
    # Restore the model and construct the encoder and decoder.
    model = keras.models.load_model(str(tmp_path / "s2s_model.keras"))

    encoder_inputs = model.input[0]  # input_1
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # noqa: RUF059
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = keras.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]  # input_2
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs
    )
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model(
        [decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states
    )
    return model, encoder_model, decoder_model


reverse_target_char_index = {i: c for c, i in target_token_index.items()}


def decode_sequence(input_seq, encoder_model, decoder_model):
    # Encode the input as state vectors.
    states_value = encoder_model.predict(input_seq, verbose=0)

    # Generate empty target sequence of length 1.
    target_seq = np.zeros((1, 1, num_decoder_tokens))
    # Populate the first character of target sequence with the start character.
    target_seq[0, 0, target_token_index["\t"]] = 1.0

    # Sampling loop for a batch of sequences
    # (to simplify, here we assume a batch of size 1).
    stop_condition = False
    decoded_sentence = ""
    while not stop_condition:
        output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)

        # Sample a token
        sampled_token_index = np.argmax(output_tokens[0, -1, :])
        sampled_char = reverse_target_char_index[sampled_token_index]
        decoded_sentence += sampled_char

        # Exit condition: either hit max length
        # or find stop character.
        if sampled_char == "\n" or len(decoded_sentence) > max_decoder_seq_length:
            stop_condition = True

        # Update the target sequence (of length 1).
        target_seq = np.zeros((1, 1, num_decoder_tokens))
        target_seq[0, 0, sampled_token_index] = 1.0

        # Update states
        states_value = [h, c]
    return decoded_sentence


# 1. The example runs: trains (the loss falls), saves, loads, decodes.
def test_lstm_seq2seq_example_runs(tmp_path):
    torch.manual_seed(0)
    model, history = build_and_train(tmp_path)
    assert len(history.history["loss"]) == epochs
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert "val_loss" in history.history and "accuracy" in history.history
    loaded, encoder_model, decoder_model = inference_models(tmp_path)
    np.testing.assert_allclose(
        loaded.predict([encoder_input_data, decoder_input_data], verbose=0),
        model.predict([encoder_input_data, decoder_input_data], verbose=0),
        atol=1e-6,
    )
    for seq_index in range(2):
        input_seq = encoder_input_data[seq_index : seq_index + 1]
        decoded = decode_sequence(input_seq, encoder_model, decoder_model)
        assert 1 <= len(decoded) <= max_decoder_seq_length + 1
        assert set(decoded) <= set(target_characters)


# 2. Teacher forcing equals step-by-step decoding through the inference models (shared layers).
def test_seq2seq_inference_models_share_the_trained_layers(tmp_path):
    torch.manual_seed(1)
    build_and_train(tmp_path)
    loaded, encoder_model, decoder_model = inference_models(tmp_path)
    assert encoder_model.layers[1] is loaded.layers[2]  # the same LSTM object: shared weights
    full = loaded.predict([encoder_input_data, decoder_input_data], verbose=0)  # (N, T, V)
    states = encoder_model.predict(encoder_input_data, verbose=0)
    steps = []
    for t in range(max_decoder_seq_length):
        out, h, c = decoder_model.predict([decoder_input_data[:, t : t + 1]] + states, verbose=0)
        steps.append(out[:, 0])
        states = [h, c]
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-5)


# 3. The same numbers as a torch.nn.LSTM encoder-decoder holding the same weights.
def test_seq2seq_matches_torch_lstm(tmp_path):
    torch.manual_seed(2)
    model, _ = build_and_train(tmp_path)
    enc, dec, dense = model.layers[2], model.layers[3], model.layers[4]

    def torch_lstm(layer):
        m = torch.nn.LSTM(layer.W_x.shape[0], latent_dim, batch_first=True)
        with torch.no_grad():
            m.weight_ih_l0.copy_(layer.W_x.T)
            m.weight_hh_l0.copy_(layer.W_h.T)
            m.bias_ih_l0.copy_(layer.b)
            m.bias_hh_l0.zero_()
        return m

    with torch.no_grad():
        _, (h, c) = torch_lstm(enc)(torch.from_numpy(encoder_input_data))
        y, _ = torch_lstm(dec)(torch.from_numpy(decoder_input_data), (h, c))
        expected = torch.softmax(y @ dense.W + dense.b, dim=-1)
    got = model.predict([encoder_input_data, decoder_input_data], verbose=0)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
