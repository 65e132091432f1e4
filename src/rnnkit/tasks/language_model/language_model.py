"""The language model: vocabulary, truncated-BPTT training with the state carried across
batches, next-token prediction, sampling, perplexity, the Kneser-Ney baseline, persistence."""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ... import _files, runtime
from ... import _validation as V
from ... import distributed as distributed_module
from ...distributed import torch_device
from ...models.optimizers import _fused_ok
from ...text import TokenVocabulary
from ...utils import set_random_seed
from .._estimator import ConfigEstimator
from .config import LanguageModelConfig
from .kneser_ney import KneserNey
from .model import LanguageModelNet, State, detach

TASK = "language_model"
TASK_FILE, VOCAB_FILE, WEIGHTS_FILE = "language_model.json", "vocab.json", "model.safetensors"
SAVED_NAMES = frozenset({TASK_FILE, VOCAB_FILE, WEIGHTS_FILE})
"""Everything :meth:`LanguageModel.save` writes in its folder."""
EVAL_STREAMS = 10
"""Parallel streams a text is cut into for :meth:`LanguageModel.perplexity` (as the PyTorch
word-language-model example's evaluation batch of 10)."""
EVAL_STEPS = 256


def _text(owner: str, name: str, text) -> str:
    if not isinstance(text, str):
        V.fail(owner, name, "a str", text, TypeError)
    return text


class LanguageModel(ConfigEstimator):
    """Next-word (or next-character) model trained from raw text.

    scikit-learn's conventions: ``__init__`` stores the config, :meth:`fit` returns ``self``,
    learned state ends in ``_`` (``vocab_``, ``net_``, ``history_``, ``baseline_``); its
    parameters are :class:`LanguageModelConfig`'s fields (``LanguageModel(units=256)``,
    ``get_params`` / ``set_params``, :func:`sklearn.base.clone`) and :meth:`score` is the
    negative cross-entropy per token of a text (higher is better, as scikit-learn's scores).

    >>> from rnnkit.datasets import load_ptb
    >>> lm = LanguageModel(LanguageModelConfig(epochs=1)).fit(load_ptb())  # doctest: +SKIP
    >>> lm.next_words("i grew up in tokyo . therefore i speak fluent", 5)  # doctest: +SKIP
    """

    config_class = LanguageModelConfig

    # -- data ---------------------------------------------------------------------------------
    def _ids(self, text: str, owner: str) -> Tensor:
        return torch.tensor(self.vocab_.encode(text), dtype=torch.long)

    def _context_id(self) -> int:
        """The token read before a text's first one: ``<eos>`` (word level), else ``\\n``."""
        if self.vocab_.eos_id is not None:
            return self.vocab_.eos_id
        return self.vocab_.token_to_id("\n")

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        corpus,
        valid: str | None = None,
        *,
        verbose: int = 1,
        on_epoch=None,
        device=None,
        distributed: bool = False,
    ):
        """Build the vocabulary from the training text, then the network, then train it.

        Parameters
        ----------
        corpus : TextCorpus or str
            A :class:`rnnkit.datasets.TextCorpus` (its ``train`` and ``valid`` texts) or the
            training text itself.
        valid : str, optional
            Validation text (default: the corpus's ``valid``): its perplexity is measured after
            each epoch (and every ``--minutes`` budget end), the best weights are kept and the
            learning rate decays when it does not improve.
        verbose : int
            0 quiet, 1 a progress bar with the running perplexity, 2 a line per epoch.
        on_epoch : callable, optional
            ``on_epoch(entry)`` after each validation, with the history entry (a dict).
        device : str or torch.device, optional
            Where the network trains (and then predicts): ``"cpu"`` (default), ``"cuda"``...
        distributed : bool
            Data-parallel training in a torch.distributed process group (started from
            torchrun's environment if none is; :mod:`rnnkit.distributed`): the ``batch_size``
            streams are cut into one contiguous share per process, which carries its streams'
            states; gradients are summed weighted by share, so every process takes the step
            one process takes on all the streams (the same weights to rounding); only rank 0
            prints. The time budgets (``minutes``, ``validate_every``) follow rank 0's clock.
        """
        owner = "LanguageModel.fit"
        config = self.config.validate()
        train = getattr(corpus, "train", corpus)
        if valid is None:
            valid = getattr(corpus, "valid", None)
        train = _text(owner, "corpus", train)
        if not train.strip():
            raise ValueError(
                f"{owner}: `corpus` expected a non-empty training text, received an empty one."
            )
        set_random_seed(config.seed)
        self.vocab_ = TokenVocabulary.build(
            train, config.level, max_size=config.max_vocab, min_count=config.min_count
        )
        data = self._ids(train, owner)
        B, T = config.batch_size, config.seq_len
        need = B * T + 1
        if len(data) < need:
            raise ValueError(
                f"{owner}: `corpus` expected a training text of at least one sequence per "
                f"stream, batch_size x seq_len + 1 = {need:,} {config.level} tokens, received "
                f"{len(data):,}; use a longer text or a smaller --batch-size / --seq-len."
            )
        valid_ids = None
        if valid is not None and _text(owner, "valid", valid).strip():
            valid_ids = self._ids(valid, owner)
        self.net_ = LanguageModelNet(config, self.vocab_.size)
        self.to(device, owner)
        group = distributed_module.group_of(owner, distributed, self._device())
        if group is not None and B < group.size:
            raise ValueError(
                f"{owner}: `distributed` expected a process group no larger than batch_size "
                f"{B} (each process carries at least one stream), received {group.size} "
                "processes."
            )
        self.history_ = []
        self._train(
            data, valid_ids, verbose if group is None or group.writes else 0, on_epoch, group
        )
        return self

    def to(self, device, owner: str = "LanguageModel.to") -> LanguageModel:
        """Move the network to ``device`` (``None``: leave it); returns ``self``."""
        if device is None:
            return self
        self._require_fitted(owner.split(".")[-1])
        self.net_.to(torch_device(owner, device))
        return self

    def _device(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _train(
        self, data: Tensor, valid_ids: Tensor | None, verbose: int, on_epoch, ddp=None
    ) -> None:
        config, net = self.config, self.net_
        data = data.to(self._device())
        if ddp is not None:  # rank 0's weights and generator on every rank
            ddp.synchronize_random()
            ddp.broadcast_parameters(net)
        decide = (lambda flag: flag) if ddp is None else ddp.decide
        share = (lambda value: value) if ddp is None else ddp.share
        B, T = config.batch_size, config.seq_len
        M = (len(data) - 1) // B  # tokens per stream (+1 for the targets)
        streams = data[: B * M + 1]
        x_all = streams[:-1].view(B, M)  # stream b is the b-th contiguous slice
        y_all = streams[1:].view(B, M)
        starts = list(range(0, M, T))
        lr = config.lr
        runtime.tune_allocator()  # as Sequential.fit: large buffers stay in the heap
        params = list(net.parameters())
        if config.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=lr, fused=_fused_ok(params) or None)
        else:
            opt = torch.optim.SGD(params, lr=lr)
        budget = None if config.minutes is None else config.minutes * 60.0
        total_steps = config.epochs * len(starts)
        step = 0  # optimizer steps taken

        def progress() -> float:  # of the whole run: steps or minutes, whichever ends first
            frac = step / total_steps
            if budget is not None:
                frac = max(frac, share((time.perf_counter() - t0) / budget))
            return frac

        t0 = time.perf_counter()
        best, best_state = math.inf, None
        stopped = False
        every = None if config.validate_every is None else config.validate_every * 60.0
        last_check = t0
        for epoch in range(config.epochs):
            net.train()
            state: State | None = None
            total, count = 0.0, 0
            bar = None
            if verbose == 1:
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=len(starts),
                    desc=f"epoch {epoch + 1}/{config.epochs}",
                    unit="batch",
                    file=sys.stderr,
                    leave=True,
                )
            done = 0
            for i in starts:
                x, y = x_all[:, i : i + T], y_all[:, i : i + T]
                if config.reset_every is not None and done % config.reset_every == 0:
                    state = None  # the streams go on from zeros
                tokens = y.numel()  # the global batch's
                if ddp is not None:  # this rank's streams (their states stay with it)
                    x, y = ddp.shard(x), ddp.shard(y)
                loss, state = net.loss(x, y, state)  # output layer fused with the loss
                state = detach(state)  # truncated BPTT: the next batch starts from these
                opt.zero_grad(set_to_none=True)
                loss.backward()
                value = float(loss.detach())
                if ddp is not None:  # the global batch's gradients and loss
                    ddp.reduce_gradients(params, y.numel(), tokens)
                    value = ddp.mean_loss(value, y.numel(), tokens, loss)
                nn.utils.clip_grad_norm_(net.parameters(), config.clip)
                rate = lr  # the plateau schedule's rate holds within an epoch
                if config.warmup or config.schedule != "plateau":  # (no clock read, no broadcast)
                    rate = config.lr_at(progress(), lr)  # the warmup and schedule at this step
                for group in opt.param_groups:
                    group["lr"] = rate
                opt.step()
                step += 1
                total += value * tokens
                count += tokens
                done += 1
                if bar is not None:
                    bar.update(1)
                    if done % 10 == 0 or done == len(starts):
                        ppl = math.exp(total / count)
                        bar.set_postfix(ppl=f"{ppl:.1f}", lr=f"{rate:.3g}")
                if budget is not None and decide(time.perf_counter() - t0 > budget):
                    stopped = True
                    break
                if every is not None and decide(time.perf_counter() - last_check > every):
                    if done < len(starts):  # the epoch's end validates anyway
                        entry = self._entry(epoch + done / len(starts), t0, total, count, rate)
                        best, best_state = self._validate(entry, valid_ids, best, best_state)
                        self._record(entry, verbose, on_epoch)
                    last_check = time.perf_counter()
            if bar is not None:
                bar.close()
            entry = self._entry(epoch + done / len(starts), t0, total, count, rate)
            before = best
            best, best_state = self._validate(entry, valid_ids, best, best_state)
            if config.schedule == "plateau" and not stopped:
                if "valid_perplexity" in entry and not best < before:
                    lr *= config.lr_decay  # no better than the best so far
                if config.optimizer == "sgd" and epoch + 1 >= config.decay_after:
                    lr *= config.lr_decay
            self._record(entry, verbose, on_epoch)
            if stopped:
                break
        if best_state is not None:
            net.load_state_dict(best_state)  # the best validation perplexity's weights
        net.eval()

    def _entry(self, epoch: float, t0: float, total: float, count: int, lr: float) -> dict:
        return {
            "epoch": round(epoch, 4),
            "minutes": round((time.perf_counter() - t0) / 60.0, 3),
            "train_perplexity": math.exp(total / max(count, 1)),
            "learning_rate": lr,
        }

    def _validate(self, entry: dict, valid_ids, best: float, best_state):
        """Add the validation perplexity to ``entry``; returns the best one so far and its
        weights (``minutes`` in an entry is wall-clock time since training began, earlier
        validations included)."""
        if valid_ids is None or not len(valid_ids):
            return best, best_state
        v = self._perplexity_ids(valid_ids)
        entry["valid_perplexity"] = v["perplexity"]
        entry["valid_cross_entropy"] = v["cross_entropy"]
        if v["perplexity"] < best:
            return v["perplexity"], copy.deepcopy(self.net_.state_dict())
        return best, best_state

    def _record(self, entry: dict, verbose: int, on_epoch) -> None:
        self.history_.append(entry)
        if verbose:
            shown = ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items()
            )
            print(shown, file=sys.stderr if verbose == 1 else sys.stdout, flush=True)
        if on_epoch is not None:
            on_epoch(entry)

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError(
                f"LanguageModel.{method}: the model is not trained; call fit(corpus) or "
                "LanguageModel.load(path)."
            )

    # -- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def _perplexity_ids(self, ids: Tensor, streams: int = EVAL_STREAMS) -> dict:
        """Cross-entropy of predicting every token of ``ids``, the first from the context
        token; the text is cut into ``streams`` consecutive parts read in parallel (each part
        starts from the token before it, with a zero state)."""
        net = self.net_
        was_training = net.training
        net.eval()
        n = len(ids)
        full = torch.cat([torch.tensor([self._context_id()]), ids.cpu()])  # (n + 1,)
        S = max(1, min(streams, n))
        size = -(-n // S)  # predictions per stream (the last may have fewer)
        x = torch.zeros(S, size, dtype=torch.long)
        y = torch.full((S, size), -100, dtype=torch.long)  # -100: ignored (padding at the end)
        for s in range(S):
            a, b = s * size, min((s + 1) * size, n)
            if a >= b:
                continue
            x[s, : b - a] = full[a:b]
            y[s, : b - a] = full[a + 1 : b + 1]
        device = self._device()
        x, y = x.to(device), y.to(device)
        state, total = None, 0.0
        for i in range(0, size, EVAL_STEPS):
            logits, state = net(x[:, i : i + EVAL_STEPS], state)
            total += float(
                nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]),
                    y[:, i : i + EVAL_STEPS].reshape(-1),
                    ignore_index=-100,
                    reduction="sum",
                )
            )
        net.train(was_training)
        ce = total / n
        out = {"tokens": n, "cross_entropy": ce, "perplexity": math.exp(ce)}
        if self.vocab_.level == "char":
            out["bits_per_char"] = ce / math.log(2)
        return out

    def score(self, text: str, y=None) -> float:
        """Minus the cross-entropy (nats per token) of ``text``: :meth:`perplexity`'s, as
        scikit-learn's higher-is-better score (``y`` ignored)."""
        return -self.perplexity(text)["cross_entropy"]

    def perplexity(self, text: str) -> dict:
        """Perplexity of ``text``: ``{"tokens", "cross_entropy" (nats per token),
        "perplexity"}`` and, at character level, ``"bits_per_char"``. Every token is
        predicted, the first from ``<eos>`` (word level) or a line break (character level)."""
        self._require_fitted("perplexity")
        text = _text("LanguageModel.perplexity", "text", text)
        ids = self._ids(text, "LanguageModel.perplexity")
        if len(ids) == 0:
            raise ValueError(
                "LanguageModel.perplexity: `text` expected at least one token, received none."
            )
        return self._perplexity_ids(ids)

    # -- prediction ---------------------------------------------------------------------------
    def _prompt(self, method: str, text: str, allow_empty: bool = False) -> Tensor:
        owner = f"LanguageModel.{method}"
        text = _text(owner, "text" if method == "next_words" else "prompt", text)
        name = "text" if method == "next_words" else "prompt"
        ids = self.vocab_.encode(text, eos=False, fold_case=True)
        unit = "word" if self.vocab_.level == "word" else "character"
        if not ids and not allow_empty:
            raise ValueError(
                f"{owner}: `{name}` expected at least one {unit}, received an empty text."
            )
        if ids and all(i == self.vocab_.unk_id for i in ids) and "<unk>" not in text:
            raise ValueError(
                f"{owner}: `{name}` expected at least one {unit} of the model's vocabulary "
                f"({self.vocab_.size:,} tokens), received only unknown {unit}s: {text!r}."
            )
        return torch.tensor([[self._context_id(), *ids]], dtype=torch.long, device=self._device())

    def _mask_unk(self, logits: Tensor) -> Tensor:
        logits = logits.clone()
        logits[..., self.vocab_.unk_id] = -math.inf
        return logits

    @torch.inference_mode()
    def next_words(
        self, text: str, k: int = 5, include_unk: bool = False
    ) -> list[tuple[str, float]]:
        """The ``k`` likeliest next tokens after ``text`` with their probabilities, likeliest
        first (``<unk>`` left out unless ``include_unk``; ``<eos>`` is the end of the
        sentence). The output layer runs on the last position only
        (:meth:`LanguageModelNet.last_logits`)."""
        self._require_fitted("next_words")
        k = V.positive_int("LanguageModel.next_words", "k", k)
        ids = self._prompt("next_words", text)
        self.net_.eval()
        logits, _ = self.net_.last_logits(ids)
        last = logits[0]
        proba = torch.softmax(last.double().cpu(), dim=-1)
        if not include_unk:
            proba[self.vocab_.unk_id] = -1.0
        k = min(k, self.vocab_.size - (0 if include_unk else 1))
        p, idx = torch.topk(proba, k)
        return [(self.vocab_.tokens[int(i)], float(q)) for q, i in zip(p, idx)]

    def generate(
        self,
        prompt: str = "",
        length: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> str:
        """Sample ``length`` tokens after ``prompt`` and return them as text (the continuation,
        without the prompt).

        The prompt is read once; each new token is then fed alone with the carried LSTM state
        (nothing is read twice). ``temperature`` divides the logits; ``top_k`` keeps the k
        likeliest tokens, ``top_p`` the smallest set whose probability reaches p (nucleus
        sampling); ``<unk>`` is never sampled. The same ``seed`` gives the same text.
        """
        pieces = self.stream(prompt, length, temperature, top_k, top_p, seed, method="generate")
        return "".join(pieces)

    def stream(
        self,
        prompt: str = "",
        length: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        *,
        method: str = "stream",
    ):
        """:meth:`generate` one token at a time: an iterator of the text each new token adds
        (joined, they are :meth:`generate`'s text for the same arguments). The arguments are
        checked and the prompt read when this is called, before the first token is drawn."""
        self._require_fitted(method)
        owner = f"LanguageModel.{method}"
        length = V.positive_int(owner, "length", length)
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not temperature > 0
        ):
            V.fail(owner, "temperature", "a number > 0", temperature)
        if top_k is not None:
            top_k = V.positive_int(owner, "top_k", top_k)
        if top_p is not None and (
            isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1
        ):
            V.fail(owner, "top_p", "a number in (0, 1]", top_p)
        gen = torch.Generator()
        gen.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, ())))
        ids = self._prompt(method, prompt, allow_empty=True)
        return self._sample(ids, length, temperature, top_k, top_p, gen)

    @torch.inference_mode()
    def _sample(self, ids: Tensor, length: int, temperature, top_k, top_p, gen):
        """The lean generation loop: the prompt read once (:meth:`LanguageModelNet.
        last_logits`), then one :meth:`LanguageModelNet.step` per token with the state
        carried; arguments were checked by :meth:`stream`, nothing is re-checked per token."""
        net = self.net_
        net.eval()
        logits, state = net.last_logits(ids)  # (1, V)
        previous = None
        for n in range(length):
            z = self._mask_unk(logits[0]).double().cpu() / temperature
            if top_k is not None and top_k < z.numel():
                kth = torch.topk(z, top_k).values[-1]
                z = torch.where(z < kth, -math.inf, z)
            proba = torch.softmax(z, dim=-1)
            if top_p is not None and top_p < 1:
                p_sorted, order = torch.sort(proba, descending=True)
                keep = torch.cumsum(p_sorted, 0) - p_sorted < top_p  # up to reaching top_p
                mask = torch.zeros_like(proba, dtype=torch.bool)
                mask[order[keep]] = True
                proba = torch.where(mask, proba, 0.0)
            token = int(torch.multinomial(proba, 1, generator=gen))
            # decode's spacing depends on the token before only: the text this token adds
            pair = [token] if previous is None else [previous, token]
            before = "" if previous is None else self.vocab_.decode([previous])
            yield self.vocab_.decode(pair)[len(before) :]  # before the step: streamed sooner
            previous = token
            if n + 1 < length:  # the last token drawn is not fed
                logits, state = net.step(torch.tensor([token], device=ids.device), state)

    # -- the baseline -------------------------------------------------------------------------
    def fit_baseline(self, train: str, order: int = 5) -> KneserNey:
        """A Kneser-Ney ``order``-gram model on ``train`` with this model's vocabulary
        (:class:`KneserNey`, modified discounts), kept as ``baseline_``."""
        self._require_fitted("fit_baseline")
        ids = np.asarray(self.vocab_.encode(train), dtype=np.int64)
        self.baseline_ = KneserNey(order=order).fit(ids, self.vocab_.size)
        return self.baseline_

    def baseline_perplexity(self, text: str) -> dict:
        """The baseline's perplexity on ``text`` (same tokens and context as :meth:`perplexity`)."""
        if getattr(self, "baseline_", None) is None:
            raise RuntimeError("LanguageModel.baseline_perplexity: call fit_baseline(train) first.")
        ids = np.asarray(self.vocab_.encode(text), dtype=np.int64)
        out = self.baseline_.perplexity(ids, context=[self._context_id()])
        if self.vocab_.level == "char":
            out["bits_per_char"] = out["cross_entropy"] / math.log(2)
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False, extra: dict | None = None) -> None:
        """Write ``path/`` with the weights (``model.safetensors``, tensors named as
        :mod:`rnnkit.models.saving` names them), the vocabulary and the config, atomically
        (:func:`rnnkit._files.write_dir`). A language model already saved at ``path`` is
        replaced (files a user added there are kept); anything else is refused unless
        ``overwrite=True``. ``extra``: more JSON-able facts for the task file (the corpus)."""
        self._require_fitted("save")
        from safetensors.torch import save_file

        tensors = {k: v.detach().cpu().contiguous() for k, v in self.net_.tensors().items()}
        task = {
            "task": TASK,
            "config": self.config.to_dict(),
            "history": getattr(self, "history_", []),
        }
        task.update(extra or {})

        def write(tmp: Path) -> None:
            save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "rnnkit.LanguageModel"})
            (tmp / WEIGHTS_FILE).chmod(_files.file_mode())
            _files.write_text(tmp / VOCAB_FILE, self.vocab_.to_json())
            _files.write_json(tmp / TASK_FILE, task)

        _files.write_dir(
            path,
            write,
            owner="LanguageModel.save",
            is_ours=is_saved_model,
            managed=SAVED_NAMES,
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, path) -> LanguageModel:
        """Load a model saved by :meth:`save`; a folder that is not one is refused."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        owner = "LanguageModel.load"
        path = Path(path)
        if not is_saved_model(path):
            raise ValueError(
                f"{owner}: `path` expected a saved language model (a folder with {TASK_FILE}), "
                f"received {str(path)!r}."
            )
        try:
            task = json.loads((path / TASK_FILE).read_text(encoding="utf-8"))
            config = LanguageModelConfig.from_dict(task["config"])
            vocab = TokenVocabulary.from_json((path / VOCAB_FILE).read_text(encoding="utf-8"))
            if vocab.level != config.level:
                raise ValueError(
                    f"vocab.json is {vocab.level}-level, the config {config.level}-level"
                )
            tensors = load_file(str(path / WEIGHTS_FILE))
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
            raise ValueError(
                f"{owner}: `path` expected a saved language model, received {str(path)!r}: {e}"
            ) from None
        lm = cls(config)
        lm.vocab_ = vocab
        lm.net_ = LanguageModelNet(config, vocab.size)
        own = lm.net_.tensors()
        if set(own) != set(tensors) or any(own[k].shape != tensors[k].shape for k in own):
            raise ValueError(
                f"{owner}: `path` expected weights for the saved config, received "
                f"{str(path)!r} whose {WEIGHTS_FILE} holds {sorted(tensors)} with other shapes or names."
            )
        with torch.no_grad():
            for k, t in own.items():
                t.copy_(tensors[k])
        lm.net_.eval()
        lm.history_ = task.get("history", [])
        lm.saved_ = {k: v for k, v in task.items() if k not in ("config", "history", "task")}
        return lm


def is_saved_model(path) -> bool:
    """Whether ``path`` is a folder written by :meth:`LanguageModel.save`."""
    task = Path(path) / TASK_FILE
    try:
        return task.is_file() and json.loads(task.read_text(encoding="utf-8")).get("task") == TASK
    except (OSError, ValueError, AttributeError):
        return False
