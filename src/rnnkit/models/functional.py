"""The functional model: ``Model(inputs, outputs)`` over a graph of layer calls, as Keras 3.

::

    encoder_inputs = Input(shape=(None, 71))
    _, h, c = LSTM(256, return_state=True)(encoder_inputs)
    decoder_inputs = Input(shape=(None, 93))
    y = LSTM(256, return_sequences=True)(decoder_inputs, initial_state=[h, c])
    model = Model([encoder_inputs, decoder_inputs], Dense(93, activation="softmax")(y))

Calling layers on symbolic tensors recorded nodes (:mod:`rnnkit.layers.symbolic`); the model
walks back from its outputs to its inputs, keeps the nodes in topological order, and runs them
on real tensors, each layer receiving the masks of its inputs (as Keras: an
``Embedding(mask_zero=True)`` masks the LSTM after it) and the call arguments it was given
(``initial_state``, ``training`` ...). It is a ``torch.nn.Module`` (its layers are submodules,
a layer called twice is one module: shared weights) and a :class:`~rnnkit.layers.Layer` (a model
is called on tensors as a layer, and nested in another model).

The fast paths of a Sequential are kept, by the rules of :mod:`rnnkit.models.execution`,
not a copy of them:

* a graph that is a linear chain (one input, one output, each node reading the previous one's
  only output) runs through :func:`rnnkit.models.execution.forward` exactly as the same
  Sequential: the Embedding -> RNN lookup, the padding rules, the vocabulary table of
  predict / evaluate;
* in any other graph, an Embedding node whose output feeds only a recurrent node (past Dropout
  nodes that are identity) runs with it as one call, :func:`~rnnkit.models.execution.
  embedding_into_rnn` (with the node's ``initial_state``, as in an encoder-decoder).

``compile`` / ``fit`` / ``evaluate`` / ``predict`` are those of a Sequential
(:class:`~rnnkit.models.model_api.ModelAPI`, one training loop); several inputs are given as
a list in the order of ``inputs`` or a dict keyed by the inputs' names.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor, nn

from .. import _validation as V
from ..layers import Dense, Dropout, Embedding, InputLayer, Layer
from ..layers import get as get_layer_class
from ..layers.base import Operation, unique_name
from ..layers.recurrent import RNN
from ..layers.symbolic import KerasTensor, Node, flatten, map_structure
from . import data as data_module
from . import execution, training
from . import losses as losses_module
from .graph_inputs import GraphInputs
from .model_api import ModelAPI


class _Chain:
    """What :mod:`rnnkit.models.execution` reads of a Sequential, for a chain of layers."""

    def __init__(self, layers: list, output_shape):
        self.layers = layers
        self.output_shape = output_shape


def _check_keras_tensors(what: str, structure) -> None:
    leaves = []

    def collect(v):
        leaves.append(v)
        return v

    map_structure(collect, structure)
    if not leaves or not all(isinstance(v, KerasTensor) for v in leaves):
        raise ValueError(
            f"All `{what}` values must be KerasTensors (from `Input` and layer calls). "
            f"Received: {what}={structure!r}"
        )


class Model(ModelAPI, Layer):
    """A model of layers called on symbolic tensors (Keras's functional API).

    Args:
        inputs: an ``Input(...)`` tensor, a list of them, or a dict ``{name: tensor}``.
        outputs: a symbolic tensor reached from ``inputs`` by layer calls, or a list / dict of
            them; the model's call returns the same structure.
        name: the model's name (default ``functional``, ``functional_1``, ...).

    >>> from rnnkit import Input, Model
    >>> from rnnkit.layers import Dense, LSTM
    >>> x = Input(shape=(None, 8))
    >>> model = Model(x, Dense(1)(LSTM(16)(x)))
    >>> model.count_params()
    1617
    """

    supports_masking = True
    reads_token_ids = True  # inputs are cast to their Input's dtype

    def __init__(self, inputs=None, outputs=None, name: str | None = None, **kwargs):
        if kwargs.pop("trainable", True) is not True:
            V.fail("Model", "trainable", "True", False)
        if kwargs:
            raise TypeError(f"Model: unexpected keyword argument(s) {sorted(kwargs)}.")
        if inputs is None or outputs is None:
            raise ValueError(
                "Model: `inputs` and `outputs` expected symbolic tensors (Keras's functional "
                "API: `Model(inputs, outputs)`); rnnkit has no subclassed Model, write a "
                "torch.nn.Module or a Sequential instead."
            )
        _check_keras_tensors("inputs", inputs)
        _check_keras_tensors("outputs", outputs)
        super().__init__(name=name or unique_name("functional"))
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        self._input_structure = inputs
        self._output_structure = outputs
        self._inputs = flatten(inputs)
        self._outputs = flatten(outputs)
        self._nodes = _topological(self._inputs, self._outputs)
        layers, seen = [], set()
        for kt in self._inputs:  # the input layers first, in the order of `inputs`
            layer = kt._keras_history[0] if kt._keras_history else None
            if isinstance(layer, InputLayer) and id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
        for node in self._nodes:
            if id(node.layer) not in seen and not isinstance(node.layer, InputLayer):
                seen.add(id(node.layer))
                layers.append(node.layer)
        names = [layer.name for layer in layers]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(
                    f'The name "{n}" is used {names.count(n)} times in the model. '
                    "All operation names should be unique."
                )
        self._layer_list = nn.ModuleList(layers)
        self._fusions = _fusions(self._nodes, self._outputs)
        self._chain = _chain(self._inputs, self._outputs, self._nodes)
        self.built = True
        self.stop_training = False
        self.compiled = False
        self.eval()  # Keras's plain call is inference; fit trains

    # -- what it shows --------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """Every layer once, the input layers first, then in the order the graph runs them
        (operations written with Python operators, ``x + y``, are not layers, as in Keras)."""
        return [layer for layer in self._layer_list if not isinstance(layer, Operation)]

    @property
    def _operations(self) -> list:
        """The layers and the operations, as Keras's summary lists them."""
        return list(self._layer_list)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input(self):
        return self._input_structure

    @property
    def output(self):
        return self._output_structure

    @property
    def input_names(self) -> list[str]:
        return [kt.name for kt in self._inputs]

    @property
    def output_names(self) -> list[str]:
        return [kt._keras_history[0].name for kt in self._outputs]

    @property
    def input_shape(self):
        shapes = [kt.shape for kt in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [kt.shape for kt in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def execution_layers(self) -> list:
        """The layers of the chain when the graph is a linear chain, else ``[]`` (read by
        :func:`rnnkit.models.execution.stack_of`)."""
        return [] if self._chain is None else list(self._chain)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name``, or at position ``index`` of :attr:`layers`."""
        if index is not None and name is not None:
            raise ValueError(
                f"Provide only a layer name or a layer index. Received: index={index}, name={name}."
            )
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: "
                f"{[layer.name for layer in self.layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _shapes(self) -> list:
        """Each layer's output shape(s) in this graph (its last call here), for ``summary``."""
        shapes = []
        for layer in self._operations:
            nodes = [n for n in self._all_nodes() if n.layer is layer]
            outs = nodes[-1].outputs
            shapes.append(outs[0].shape if nodes[-1].single else [kt.shape for kt in outs])
        return shapes

    def _all_nodes(self) -> list[Node]:
        inputs = [kt._keras_history[0]._inbound_nodes[0] for kt in self._inputs]
        return [n for n in inputs if n.is_input] + [n for n in self._nodes if not n.is_input]

    def _connections(self) -> list[str] | None:
        """The "Connected to" column of ``summary``, or None for a chain (Keras prints the
        Sequential table then)."""
        if _sequential_like(self._inputs, self._nodes):
            return None
        column = []
        for layer in self._operations:
            parts = []
            for node in self._all_nodes():
                if node.layer is layer:
                    for kt in node.input_tensors:
                        owner, node_index, tensor_index = kt._keras_history
                        parts.append(f"{owner.name}[{node_index}][{tensor_index}]")
            column.append(", ".join(parts) or "-")
        return column

    # -- the call -------------------------------------------------------------------------------
    def _feed(self, inputs) -> list[Tensor]:
        """The call's inputs as a list in the order of :attr:`inputs`."""
        if isinstance(inputs, GraphInputs):
            values = inputs.tensors
        elif isinstance(inputs, dict):
            if isinstance(self._input_structure, dict):
                keys = list(self._input_structure)
            else:
                keys = [kt.name for kt in self._inputs]
            missing = [k for k in keys if k not in inputs]
            values = [inputs.get(k) for k in keys]
            extra = sorted(set(inputs) - set(keys))
            if extra and not missing and not getattr(self, "_warned_extra", False):
                self._warned_extra = True
                warnings.warn(
                    "The structure of `inputs` doesn't match the expected structure: "
                    f"{self.name} ignores the keys {extra} (expected {keys}).",
                    UserWarning,
                    stacklevel=4,
                )
            if missing:
                raise ValueError(
                    f"{self.name}: `inputs` expected the keys {self.input_names}, missing "
                    f"{missing} (received keys {sorted(inputs)})."
                )
        elif isinstance(inputs, (list, tuple)):
            values = list(inputs)
        elif isinstance(self._input_structure, dict) and len(self._inputs) > 1:
            raise ValueError(
                f"{self.name}: expected named input(s) with keys {list(self._input_structure)} "
                f"(a dict), received a single {type(inputs).__name__}."
            )
        else:
            values = [inputs]
        if len(values) != len(self._inputs):
            raise ValueError(
                f'Layer "{self.name}" expects {len(self._inputs)} input(s), but it received '
                f"{len(values)} input tensors."
            )
        out = []
        for kt, v in zip(self._inputs, values):
            if isinstance(v, np.ndarray) or not isinstance(v, Tensor):
                v = training.to_tensor(v, kt.name, self.name)
            v = _rank(v, kt)
            _check_shape(self.name, len(out), kt, v)
            out.append(_cast(v, kt))
        return out

    def forward(self, inputs, mask=None, logits: bool = False):
        """Run the graph on ``inputs`` (a tensor, a list in the order of :attr:`inputs`, or a
        dict by input name); ``mask`` masks the (single) input. With ``logits=True`` a final
        ``Dense`` returns its pre-activation (the loss then takes logits)."""
        values = self._feed(inputs)
        if self._chain is not None:
            x = values[0]
            if self._chain and isinstance(self._chain[0], Embedding) and x.dtype.is_floating_point:
                x = x.long()  # an Input of the default float32 dtype feeding token ids
            return execution.forward(_Chain(self._chain, self.output_shape), x, mask, logits)
        env: dict[int, Tensor] = {}
        masks: dict[int, Tensor | None] = {}
        for kt, v in zip(self._inputs, values):
            env[id(kt)] = v
            masks[id(kt)] = None
        if mask is not None:
            masks[id(self._inputs[0])] = mask
        last = self._nodes[-1] if self._nodes else None
        logits_node = last if logits and self._logits_layer() is not None else None
        fused_into = {id(n) for chain in self._fusions.values() for n in chain}
        for node in self._nodes:
            if id(node) in env or node.is_input:
                continue
            if id(node) in fused_into:
                continue  # run with the recurrent node it feeds (or on demand, below)
            chain = self._fusions.get(id(node))
            if chain is not None and self._run_fused(node, chain, env, masks):
                continue
            if chain is not None:
                for feeder in chain:
                    self._run_node(feeder, env, masks)
            self._run_node(node, env, masks, logits=node is logits_node)
        outs = [env[id(kt)] for kt in self._outputs]
        return _restructure(self._output_structure, outs)

    def _logits_layer(self):
        """The Dense whose logits ``logits=True`` returns: the layer of the last node when it
        produces the only output and is the model's last layer (what the loop reads)."""
        if len(self._outputs) != 1 or not self._nodes:
            return None
        last = self._nodes[-1]
        layers = self.layers
        if isinstance(last.layer, Dense) and layers and layers[-1] is last.layer:
            return last.layer
        if isinstance(layers[-1], Dense) if layers else False:
            raise ValueError(
                f"{self.name}: the last layer {layers[-1].name!r} does not make the model's "
                "output; compile with a loss given as a function to train this model."
            )
        return None

    def _args(self, node: Node, env):
        def value(v):
            return env[id(v)] if isinstance(v, KerasTensor) else v

        return map_structure(value, node.args), map_structure(value, node.kwargs)

    def _input_mask(self, node: Node, masks):
        first = node.args[0]
        found = map_structure(
            lambda v: masks.get(id(v)) if isinstance(v, KerasTensor) else None, first
        )
        if isinstance(found, (list, tuple)):
            return None if all(m is None for m in found) else list(found)
        return found

    def _run_node(self, node: Node, env, masks, logits: bool = False) -> None:
        layer = node.layer
        args, kwargs = self._args(node, env)
        if "mask" not in kwargs and getattr(layer, "supports_masking", False):
            in_mask = self._input_mask(node, masks)
            if in_mask is not None:
                kwargs["mask"] = in_mask
        if _takes_ids(layer) and isinstance(args[0], Tensor) and args[0].dtype.is_floating_point:
            args = (args[0].long(), *args[1:])  # a float Input (Keras's default) of token ids
        if logits:
            out = layer.logits(args[0])
        else:
            out = layer(*args, training=node.training, **kwargs)
        outs = [out] if node.single else list(out)
        out_masks = _output_masks(layer, args[0], kwargs.get("mask"), len(outs))
        for kt, v, m in zip(node.outputs, outs, out_masks):
            env[id(kt)] = v
            masks[id(kt)] = m

    def _run_fused(self, node: Node, chain: list[Node], env, masks) -> bool:
        """Run an Embedding node, the identity Dropout nodes after it and the recurrent
        ``node`` as one call, if the rules allow it now; False (nothing run) otherwise."""
        embedding_node, dropouts = chain[0], chain[1:]
        if node.training is not None or any(d.training is not None for d in dropouts):
            return False
        if not all(execution.transparent(d.layer) for d in dropouts):
            return False
        ids = env[id(embedding_node.args[0])]
        if not isinstance(ids, Tensor) or ids.dim() != 2:
            return False
        if ids.dtype.is_floating_point:
            ids = ids.long()
        kwargs = map_structure(
            lambda v: env[id(v)] if isinstance(v, KerasTensor) else v, node.kwargs
        )
        in_mask = masks.get(id(embedding_node.args[0]))
        out, out_mask = execution.embedding_into_rnn(
            embedding_node.layer, node.layer, ids, in_mask, kwargs.get("initial_state")
        )
        outs = [out] if node.single else list(out)
        for i, (kt, v) in enumerate(zip(node.outputs, outs)):
            env[id(kt)] = v
            masks[id(kt)] = out_mask if i == 0 else None
        return True

    # -- data for fit / evaluate / predict ------------------------------------------------------
    def _model_inputs(self, x, owner: str = "fit"):
        """``x`` as the training loop takes it: one tensor, or :class:`GraphInputs` for
        several inputs (a list in input order, or a dict by input name)."""
        if x is None or isinstance(x, GraphInputs) or data_module.is_stream(x):
            return x  # a stream's batches are converted by the training loop
        if len(self._inputs) == 1 and not isinstance(x, dict):
            if isinstance(x, (list, tuple)) and len(x) == 1 and not np.isscalar(x[0]):
                first = x[0]
                if isinstance(first, (np.ndarray, Tensor)):
                    x = first
            return _cast(training.to_tensor(x, "x", owner), self._inputs[0])
        values = self._feed(x) if isinstance(x, (dict, list, tuple)) else None
        if values is None:
            raise ValueError(
                f"{owner}: `x` expected a list of {len(self._inputs)} arrays (one per input, "
                f"in the order {self.input_names}) or a dict keyed by input name, received "
                f"{type(x).__name__}."
            )
        lengths = {len(v) for v in values}
        if len(lengths) != 1:
            raise ValueError(
                f"{owner}: `x` expected the same number of samples in every input, received "
                f"{[len(v) for v in values]}."
            )
        return GraphInputs(values)

    # -- several outputs: one loss each -------------------------------------------------------
    @property
    def _output_keys(self) -> list[str]:
        """The names a dict of losses or targets is keyed by: the keys of a dict of outputs,
        else the names of the layers making the outputs (as Keras)."""
        if isinstance(self._output_structure, dict):
            return list(self._output_structure)
        return self.output_names

    def _per_output(self, owner: str, name: str, spec) -> list:
        keys = self._output_keys
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - set(keys))
            if unknown:
                raise ValueError(
                    f"{owner}: `{name}` expected keys among the outputs {keys}, received {unknown}."
                )
            return [spec.get(k) for k in keys]
        if isinstance(spec, (list, tuple)):
            if len(spec) != len(keys):
                raise ValueError(
                    f"{owner}: `{name}` expected one entry per output ({len(keys)}: {keys}), "
                    f"received {len(spec)}."
                )
            return list(spec)
        return [spec] * len(keys)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None) -> None:
        """As :meth:`Sequential.compile`; for several outputs ``loss`` may be one loss for
        every output, a list (in output order) or a dict keyed by output name, and
        ``loss_weights`` weighs them (the loss trained is ``sum_k w_k * loss_k``, as Keras)."""
        several = len(self._outputs) > 1
        if not several and loss_weights is None:
            if isinstance(loss, (list, tuple)) and len(loss) == 1:
                loss = loss[0]
            if isinstance(loss, dict) and len(loss) == 1:
                loss = next(iter(loss.values()))
            return super().compile(optimizer, loss, metrics)
        if loss is None:
            raise ValueError("compile: `loss` expected a loss name or a callable, received None.")
        if metrics:
            raise ValueError(
                "compile: `metrics` for a model with several outputs are not supported yet; "
                f"received {metrics!r} (compile without metrics, or evaluate each output)."
            )
        fns = [losses_module.get(spec)[1] for spec in self._per_output("compile", "loss", loss)]
        weights = self._per_output(
            "compile", "loss_weights", 1.0 if loss_weights is None else loss_weights
        )
        weights = [1.0 if w is None else float(w) for w in weights]
        return super().compile(optimizer, _OutputsLoss(fns, weights), None)

    def _model_targets(self, y, owner: str = "fit"):
        if y is None or len(self._outputs) == 1 or isinstance(y, GraphInputs):
            return y
        if isinstance(y, dict):
            missing = [k for k in self._output_keys if k not in y]
            if missing:
                raise ValueError(
                    f"{owner}: `y` expected the keys {self._output_keys}, missing {missing}."
                )
            values = [y[k] for k in self._output_keys]
        elif isinstance(y, (list, tuple)) and len(y) == len(self._outputs):
            values = list(y)
        else:
            raise ValueError(
                f"{owner}: `y` expected a list of {len(self._outputs)} arrays (one per output, "
                f"in the order {self._output_keys}) or a dict keyed by output name."
            )
        return GraphInputs([training.to_tensor(v, "y", owner) for v in values])

    # -- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's functional config: every layer with its config and inbound nodes, the
        input and output tensors as ``[layer name, node index, tensor index]``."""
        for op in self._operations:
            if isinstance(op, Operation):
                op.get_config()  # raises: an operator on symbolic tensors is not saved
        local: dict[int, int] = {}  # id(node) -> its index among the layer's nodes here
        counts: dict[int, int] = {}
        for node in self._all_nodes():
            local[id(node)] = counts.get(id(node.layer), 0)
            counts[id(node.layer)] = local[id(node)] + 1

        def history(kt: KerasTensor) -> list:
            layer, node_index, tensor_index = kt._keras_history
            node = layer._inbound_nodes[node_index]
            return [layer.name, local[id(node)], tensor_index]

        def serialize(v):
            if isinstance(v, KerasTensor):
                return {
                    "class_name": "__keras_tensor__",
                    "config": {
                        "shape": list(v.shape),
                        "dtype": v.dtype,
                        "keras_history": history(v),
                    },
                }
            if v is None or isinstance(v, (bool, int, float, str)):
                return v
            raise ValueError(
                f"{self.name}: get_config cannot record a call argument of type "
                f"{type(v).__name__} (only symbolic tensors and Python constants)."
            )

        layers = []
        for layer in self.layers:
            nodes = [n for n in self._all_nodes() if n.layer is layer and not n.is_input]
            inbound = []
            for n in nodes:
                kwargs = map_structure(serialize, n.kwargs)
                if n.training is not None:
                    kwargs["training"] = n.training
                inbound.append({"args": map_structure(serialize, list(n.args)), "kwargs": kwargs})
            layers.append(
                {
                    "class_name": _class_name(layer),
                    "config": layer.get_config(),
                    "name": layer.name,
                    "inbound_nodes": inbound,
                }
            )
        return {
            "name": self.name,
            "trainable": True,
            "layers": layers,
            "input_layers": map_structure(history, self._input_structure),
            "output_layers": map_structure(history, self._output_structure),
        }

    @classmethod
    def from_config(cls, config: dict) -> Model:
        """The model :meth:`get_config` describes (new layers, new weights)."""
        created: dict[str, Layer] = {}
        for entry in config["layers"]:
            layer = _layer_class(entry["class_name"]).from_config(dict(entry["config"]))
            created[entry.get("name", layer.name)] = layer
        outputs: dict[tuple[str, int], list] = {}
        pending = []
        for entry in config["layers"]:
            name = entry.get("name") or entry["config"]["name"]
            layer = created[name]
            if isinstance(layer, InputLayer):
                outputs[(name, 0)] = [layer.output]
            else:
                pending.append([name, layer, list(entry.get("inbound_nodes", [])), 0])
        missing = object()

        def resolve(v):
            if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                owner, node_index, tensor_index = v["config"]["keras_history"]
                got = outputs.get((owner, node_index))
                if got is None:
                    raise LookupError
                return got[tensor_index]
            if isinstance(v, dict):
                return {k: resolve(x) for k, x in v.items()}
            if isinstance(v, list):
                return [resolve(x) for x in v]
            return v

        progress = True
        while progress and any(p[3] < len(p[2]) for p in pending):
            progress = False
            for item in pending:
                name, layer, nodes, done = item
                while done < len(nodes):
                    try:
                        args = resolve(nodes[done]["args"])
                        kwargs = resolve(nodes[done].get("kwargs", {}))
                    except LookupError:
                        break
                    out = layer(*args, **kwargs)
                    outputs[(name, done)] = out if isinstance(out, list) else [out]
                    done += 1
                    item[3] = done
                    progress = True
        stuck = [p[0] for p in pending if p[3] < len(p[2])]
        if stuck:
            raise ValueError(
                "Functional model config has loops or missing nodes: the layers "
                f"{stuck} could not be called."
            )
        _ = missing

        def tensor(ref):
            if isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str):
                owner, node_index, tensor_index = ref
                if (owner, node_index) not in outputs:
                    raise ValueError(f"Functional model config: no node {ref} for an input/output.")
                return outputs[(owner, node_index)][tensor_index]
            if isinstance(ref, dict):
                return {k: tensor(v) for k, v in ref.items()}
            return [tensor(v) for v in ref]

        return cls(
            tensor(config["input_layers"]), tensor(config["output_layers"]), name=config["name"]
        )

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


# -- the graph ----------------------------------------------------------------------------------
class _OutputsLoss:
    """``sum_k w_k * loss_k(y_true_k, y_pred_k)`` over a model's outputs (Keras's total loss)."""

    __name__ = "outputs_loss"

    def __init__(self, fns: list, weights: list[float]):
        self.fns = fns
        self.weights = weights

    def __call__(self, y_true, y_pred):
        trues = y_true.tensors if isinstance(y_true, GraphInputs) else list(y_true)
        preds = flatten_tensors(y_pred)
        total = 0.0
        for fn, w, t, p in zip(self.fns, self.weights, trues, preds):
            total = total + w * fn(t, p)
        return total


def flatten_tensors(structure) -> list[Tensor]:
    out = []
    map_structure(lambda v: out.append(v) or v, structure)
    return out


def _topological(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Node]:
    """The nodes between ``inputs`` and ``outputs`` in an order where each comes after the
    nodes it reads; ``ValueError`` for an output not reached from the inputs."""
    sources = {id(kt) for kt in inputs}
    order, state = [], {}
    for kt in inputs:
        if kt._keras_history is None:
            raise ValueError(f"Model: the input {kt!r} has no history (make it with `Input`).")

    def visit(kt: KerasTensor, path: list[str]):
        if id(kt) in sources:
            layer, node_index, _ = kt._keras_history
            node = layer._inbound_nodes[node_index]
            if state.get(id(node)) is None:
                state[id(node)] = "done"
                order.append(node)
            return
        if kt._keras_history is None:
            raise ValueError(f"Graph disconnected: cannot find parent for tensor {kt}.")
        layer, node_index, _ = kt._keras_history
        node = layer._inbound_nodes[node_index]
        if state.get(id(node)) == "done":
            return
        if state.get(id(node)) == "visiting":
            raise ValueError("Functional model has a loop.")
        if node.is_input:
            raise ValueError(
                f"Graph disconnected: cannot find parent for tensor {kt} at operation "
                f"'{layer.name}': it is an input the model was not given. The following "
                f"previous operations were accessed without issue: {path}"
            )
        state[id(node)] = "visiting"
        for t in node.input_tensors:
            visit(t, path)
        state[id(node)] = "done"
        order.append(node)
        path.append(layer.name)

    for kt in outputs:
        visit(kt, [])
    return order


def _consumers(nodes: list[Node]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in nodes:
        for kt in node.input_tensors:
            counts[id(kt)] = counts.get(id(kt), 0) + 1
    return counts


def _fusions(nodes: list[Node], outputs: list[KerasTensor]) -> dict[int, list[Node]]:
    """``{id(recurrent node): [embedding node, dropout nodes...]}`` for each recurrent node
    whose sequence input comes from an Embedding node through Dropout nodes only, every one of
    them read by the next alone (not a model output): the pair may run as one call."""
    counts = _consumers(nodes)
    is_output = {id(kt) for kt in outputs}
    found = {}
    for node in nodes:
        if not isinstance(node.layer, RNN) or len(node.args) != 1:
            continue
        if set(node.kwargs) - {"initial_state"}:
            continue
        x = node.args[0]
        if not isinstance(x, KerasTensor) or x._keras_history is None:
            continue
        chain = []
        while True:
            if counts.get(id(x), 0) != 1 or id(x) in is_output:
                chain = None
                break
            layer, node_index, _ = x._keras_history
            feeder = layer._inbound_nodes[node_index]
            if feeder not in nodes or len(feeder.args) != 1 or feeder.kwargs:
                chain = None
                break
            chain.insert(0, feeder)
            if isinstance(layer, Embedding):
                break
            if not isinstance(layer, Dropout):
                chain = None
                break
            x = feeder.args[0]
            if not isinstance(x, KerasTensor) or x._keras_history is None:
                chain = None
                break
        if chain:
            found[id(node)] = chain
    return found


def _chain(inputs, outputs, nodes: list[Node]) -> list | None:
    """The layers of a linear chain ``input -> n_1 -> ... -> n_k -> output`` (each node one
    positional input, the previous node's only output, no call arguments, each layer once),
    else None."""
    if len(inputs) != 1 or len(outputs) != 1:
        return None
    body = [n for n in nodes if not n.is_input]
    if not body:
        return None
    previous = inputs[0]
    layers = []
    for node in body:
        if (
            len(node.args) != 1
            or node.args[0] is not previous
            or node.kwargs
            or node.training is not None
            or not node.single
            or node.layer in layers
            or not isinstance(node.layer, Layer)
            or isinstance(node.layer, Model)
        ):
            return None
        layers.append(node.layer)
        previous = node.outputs[0]
    return layers if previous is outputs[0] else None


def _sequential_like(inputs, nodes: list[Node]) -> bool:
    """Keras's summary test: one input, each node reading one tensor, each layer once, no
    branching."""
    if len(inputs) != 1:
        return False
    body = [n for n in nodes if not n.is_input]
    previous, seen = inputs[0], set()
    for node in body:
        ins = node.input_tensors
        if len(ins) != 1 or ins[0] is not previous or id(node.layer) in seen:
            return False
        seen.add(id(node.layer))
        previous = node.outputs[0] if len(node.outputs) == 1 else None
    return True


def _output_masks(layer, inputs, mask, n: int) -> list:
    compute = getattr(layer, "compute_mask", None)
    out = compute(inputs, mask) if compute is not None else None
    if isinstance(out, (list, tuple)):
        out = list(out) + [None] * (n - len(out))
        return out[:n]
    return [out] + [None] * (n - 1)


def _cast(x: Tensor, kt: KerasTensor) -> Tensor:
    """``x`` in the dtype of the Input ``kt`` where their kinds differ (Keras casts inputs),
    floats of another precision too; integer ids keep their integer type."""
    target = kt.torch_dtype
    if x.dtype == target:
        return x
    if target.is_floating_point or target == torch.bool:
        return x.to(target)
    if x.dtype.is_floating_point:
        return x.to(target)
    return x


def _takes_ids(layer) -> bool:
    """An Embedding, or a Sequential that starts with one."""
    if isinstance(layer, Embedding):
        return True
    layers = getattr(layer, "layers", None)
    return (
        type(layer).__name__ == "Sequential" and bool(layers) and isinstance(layers[0], Embedding)
    )


def _rank(x: Tensor, kt: KerasTensor) -> Tensor:
    """Keras's rank standardisation: a trailing axis of size 1 dropped or added to match the
    Input's rank."""
    if x.dim() == kt.ndim + 1 and x.shape[-1] == 1:
        return x.squeeze(-1)
    if x.dim() + 1 == kt.ndim and kt.shape[-1] == 1:
        return x.unsqueeze(-1)
    return x


def _check_shape(name: str, index: int, kt: KerasTensor, x: Tensor) -> None:
    """Keras's input check: the rank and every fixed axis of the Input but the batch axis
    (Keras's functional input specs leave it free: a stateful layer names a wrong batch size
    itself)."""
    shape = tuple(x.shape)
    spec = (None, *kt.shape[1:])
    if len(shape) != kt.ndim or any(d is not None and d != s for d, s in zip(spec, shape)):
        expected = "(" + ", ".join("None" if d is None else str(d) for d in spec) + ")"
        found = "(" + ", ".join(str(d) for d in shape) + ")"
        raise ValueError(
            f'Input {index} of layer "{name}" is incompatible with the layer: '
            f"expected shape={expected}, found shape={found}"
        )


def _restructure(structure, flat: list):
    it = iter(flat)

    def put(v):
        return next(it)

    return map_structure(put, structure)


def _class_name(layer) -> str:
    if isinstance(layer, Model):
        return "Functional"
    return type(layer).__name__


def _layer_class(class_name: str):
    if class_name in ("Functional", "Model"):
        return Model
    if class_name == "Sequential":
        from .sequential import Sequential

        return Sequential
    return get_layer_class(class_name)
