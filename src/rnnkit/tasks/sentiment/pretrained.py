"""Starting the sentiment network from a language model (Dai & Le 2015, "Semi-supervised
sequence learning": an LSTM language model trained on the reviews' text, whose embedding and
LSTM weights then start the classifier).

What is filled, from a word-level :class:`~rnnkit.tasks.language_model.LanguageModel` saved by
``rnnkit textgen train`` (best: ``--corpus imdb``, the training reviews in the sentiment task's
words):

* the **embedding**, row by row through the words: the sentiment vocabulary's word ``w`` (id
  ``i``) takes the language model's row of ``w``; the start id (1) takes the row of ``<eos>``
  (what the language model reads before each review of ``--corpus imdb``), the unknown id (2)
  the row of ``<unk>``. Padding (0), the unused id 3 and the words the language model does not
  know keep their fresh initialisation;
* the **LSTM layers**: layer ``k`` of the network takes the language model's layer ``k``
  (``W_x``, ``W_h``, ``b``: both are rnnkit :class:`~rnnkit.layers.LSTM` layers, the same
  packed ``[i | f | g | o]`` layout); the language model's layers above the network's are not
  used. In a bidirectional network the forward direction is filled, the backward one (which
  reads the review from its end, unlike the language model) keeps its fresh initialisation.

Nothing else is: the output layer (the language model's predicts words), the ``--ngrams``
model of a hybrid. The checks that need only the saved model's ``language_model.json``
(:func:`check_language_model`) run before any data is read.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..language_model.config import LanguageModelConfig

OWNER = "SentimentConfig"


def _refuse(path, expected: str, detail: str = "") -> None:
    raise ValueError(
        f"{OWNER}: `pretrained_lm` expected {expected}, received {str(path)!r}{detail}."
    )


def check_language_model(config) -> LanguageModelConfig | None:
    """The saved language model's config if ``config.pretrained_lm`` can start ``config``'s
    network (``None`` without ``pretrained_lm``); else a ``ValueError`` saying what does not
    fit. Reads only ``language_model.json``."""
    path = config.pretrained_lm
    if path is None:
        return None
    from ..language_model.language_model import TASK_FILE, is_saved_model

    folder = Path(path)
    if not is_saved_model(folder):
        hint = ""
        if is_saved_model(folder / "model"):  # the run folder of `rnnkit textgen train`
            hint = f", a training run's folder: its model is {str(folder / 'model')!r}"
        _refuse(
            path,
            f"a saved language model (a folder with {TASK_FILE}, as `rnnkit textgen train` "
            "writes in its model/)",
            hint,
        )
    try:
        task = json.loads((folder / TASK_FILE).read_text(encoding="utf-8"))
        lm = LanguageModelConfig.from_dict(task["config"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        _refuse(path, "a saved language model", f": {TASK_FILE}: {e}")
    if lm.level != "word":
        _refuse(
            path,
            "a word-level language model (its words' rows fill the embedding)",
            f", a {lm.level}-level model",
        )
    for name, flag in (("embedding_dim", "--embedding-dim"), ("units", "--units")):
        mine, its = getattr(config, name), getattr(lm, name)
        if mine != its:
            _refuse(
                path,
                f"a language model with {name} {mine} (the network's {flag})",
                f", whose {name} is {its}; pass {flag} {its} or train the language model "
                f"with {flag} {mine}",
            )
    if lm.layers < config.layers:
        _refuse(
            path,
            f"a language model with at least {config.layers} LSTM layers (layer k of the "
            "network starts from the model's layer k; the model's layers above the network's "
            "are not used)",
            f", which has {lm.layers}",
        )
    return lm


def copy_embedding(E, vocab, E_lm, lm_vocab) -> dict:
    """Copy the language model's embedding rows into the sentiment embedding ``E`` (V, D),
    word by word (module documentation); returns ``{"rows", "words", "of"}``: the rows
    copied, how many of them are words, the rows of ``E``.

    ``vocab``: the sentiment :class:`~rnnkit.text.Vocabulary`; ``E_lm`` (V', D) and
    ``lm_vocab`` (:class:`~rnnkit.text.TokenVocabulary`) the language model's."""
    import torch

    rows, sources = [], []
    specials = {vocab.START_ID: lm_vocab.eos_id, vocab.OOV_ID: lm_vocab.unk_id}
    for i, j in specials.items():
        if j is not None and i < vocab.size:
            rows.append(i)
            sources.append(j)
    for i, word in enumerate(vocab.words, start=vocab.index_from + 1):
        if i >= vocab.size:  # the words cut by num_words have no row
            break
        j = lm_vocab.token_to_id(word.lower() if lm_vocab.lower else word)
        if j != lm_vocab.unk_id:
            rows.append(i)
            sources.append(j)
    with torch.no_grad():
        E[rows] = E_lm[sources].to(E.dtype)  # (rows, D)
    return {"rows": len(rows), "words": len(rows) - len(specials), "of": int(E.shape[0])}


def copy_lstm(target, source) -> None:
    """Copy ``source``'s weights (``W_x`` (D, 4H), ``W_h`` (H, 4H), ``b`` (4H,)) into the LSTM
    layer ``target``: the same rnnkit layer on both sides, the same gate layout."""
    import torch

    for name in ("W_x", "W_h", "b"):
        mine, its = getattr(target, name, None), getattr(source, name, None)
        if mine is None or its is None or mine.shape != its.shape:
            raise ValueError(
                f"{OWNER}: `pretrained_lm` expected an LSTM layer like the network's, received "
                f"{name} {None if its is None else tuple(its.shape)} for the network's "
                f"{None if mine is None else tuple(mine.shape)}."
            )
        with torch.no_grad():
            mine.copy_(its.to(mine.dtype))


def network_parts(model) -> tuple:
    """The network's embedding layer and its recurrent layers' forward LSTMs (a
    bidirectional layer's ``forward_layer``), in order, with whether any is bidirectional."""
    from ...layers import LSTM, Bidirectional, Embedding

    embedding = next(layer for layer in model.layers if isinstance(layer, Embedding))
    lstms, both_ways = [], False
    for layer in model.layers:
        if isinstance(layer, Bidirectional):
            lstms.append(layer.forward_layer)
            both_ways = True
        elif isinstance(layer, LSTM):
            lstms.append(layer)
    return embedding, lstms, both_ways


def start_from_language_model(model, vocab, lm, path) -> dict:
    """Fill ``model``'s embedding and LSTM layers from the loaded language model ``lm``
    (module documentation); returns what was filled (``SentimentClassifier.pretrained_``)."""
    embedding, lstms, both_ways = network_parts(model)
    rows = copy_embedding(embedding.E, vocab, lm.net_.embedding.E, lm.vocab_)
    for target, source in zip(lstms, lm.net_.lstms):
        copy_lstm(target, source)
    return {
        "path": str(path),
        "embedding_rows": rows["rows"],
        "embedding_words": rows["words"],
        "embedding_size": rows["of"],
        "lm_vocabulary": lm.vocab_.size,
        "lstm_layers": len(lstms),
        "lm_layers": len(lm.net_.lstms),
        "backward_fresh": both_ways,
    }


def describe(report: dict) -> str:
    """One line saying what the language model filled."""
    fresh = report["embedding_size"] - report["embedding_rows"]
    k, m = report["lstm_layers"], report["lm_layers"]
    layers = "LSTM layer 1" if k == 1 else f"LSTM layers 1-{k}"
    text = (
        f"Started from the language model {report['path']!r}: "
        f"{report['embedding_rows']:,} of {report['embedding_size']:,} embedding rows copied "
        f"({report['embedding_words']:,} words, start from <eos>, unknown from <unk>; {fresh:,} "
        f"kept their fresh initialisation), {layers} from its layer{'s' if k > 1 else ''} "
        f"{'1' if k == 1 else f'1-{k}'}"
    )
    if m > k:
        text += (
            f" (its layer{'s' if m - k > 1 else ''} {k + 1}{f'-{m}' if m - k > 1 else ''} not used)"
        )
    if report["backward_fresh"]:
        text += "; the backward direction keeps its fresh initialisation"
    return text + "."
