"""The translator: vocabularies, the encoder-decoder, training with teacher forcing, greedy and
beam-search decoding, BLEU, persistence."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ... import _files, runtime
from ... import _validation as V
from ... import distributed as distributed_module
from ...distributed import torch_device
from ...models.callbacks import History
from ...models.optimizers import _fused_ok
from ...text import pad_sequences
from ...utils import set_random_seed
from .._estimator import ConfigEstimator
from . import model as seq2seq
from .config import TranslateConfig
from .scoring import score
from .text import detokenize, tokenize
from .vocab import END, PAD, START, TokenVocab

TASK_FILE, WEIGHTS_FILE = "translator.json", "weights.safetensors"
SOURCE_VOCAB, TARGET_VOCAB = "source_vocab.json", "target_vocab.json"
SAVED_NAMES = frozenset({TASK_FILE, WEIGHTS_FILE, SOURCE_VOCAB, TARGET_VOCAB})


def _tokens(text: str, level: str) -> list[str]:
    if level == "char":
        return list(" ".join(text.lower().split()))
    return tokenize(text)


def _join(tokens: list[str], level: str) -> str:
    return "".join(tokens) if level == "char" else detokenize(tokens)


def _pad(rows: list[list[int]]) -> torch.Tensor:
    """Token ids padded with 0 at the end to the longest row (:func:`rnnkit.text.pad_sequences`)."""
    return torch.from_numpy(pad_sequences(rows, padding="post", dtype="int64"))


def train_step(
    net: seq2seq.Seq2Seq,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    clipnorm: float,
    source: torch.Tensor,
    target_in: torch.Tensor,
    target_out: torch.Tensor,
    group=None,
) -> float:
    """One gradient step of teacher forcing on a batch: the loss over the target's
    non-padding steps (:func:`~rnnkit.tasks.translate.model.loss`), backward, gradients
    clipped to the global norm ``clipnorm``, one optimizer step. Returns the batch's loss.
    With a process ``group`` (:mod:`rnnkit.distributed`) each rank takes its share of the
    pairs and the gradients are averaged over the whole batch's target tokens.
    The translator's :meth:`Translator.fit` and ``benchmarks/bench_translate.py`` run this."""
    n = int((target_out != PAD).sum())  # the batch's target tokens
    if group is not None:  # this rank's pairs
        source, target_in = group.shard(source), group.shard(target_in)
        target_out = group.shard(target_out)
    optimizer.zero_grad(set_to_none=True)
    mine = int((target_out != PAD).sum())  # this rank's target tokens
    if mine:
        loss = seq2seq.loss(net, source, target_in, target_out)
        loss.backward()
        value = loss.item()
    else:  # no pair in this rank's share (a batch smaller than the group)
        loss, value = torch.zeros((), device=source.device), 0.0
    if group is not None:  # the whole batch's gradients and loss
        for p in params:  # (every rank sends a gradient for every weight)
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        group.reduce_gradients(params, mine, n)
        value = group.mean_loss(value, mine, n, loss)
    torch.nn.utils.clip_grad_norm_(params, clipnorm)
    optimizer.step()
    return value


def make_optimizer(params: list[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam, PyTorch's single-pass (fused) kernel where the parameters allow it (rnnkit's
    tuned runtime, :mod:`rnnkit.runtime`)."""
    return torch.optim.Adam(params, lr=lr, fused=_fused_ok(params) or None)


class Translator(ConfigEstimator):
    """Translate sentences with an LSTM / GRU encoder-decoder with attention.

    >>> tr = Translator(epochs=5).fit(pairs)                        # doctest: +SKIP
    >>> tr.translate(["I speak fluent French."], beam=5)           # doctest: +SKIP
    """

    config_class = TranslateConfig

    # -- data ---------------------------------------------------------------------------------
    def _encode_pairs(self, pairs, owner: str):
        config = self.config
        src, tgt = [], []
        for k, pair in enumerate(pairs):
            s, t = _tokens(pair[0], config.level), _tokens(pair[1], config.level)
            if not s or not t:
                V.fail(owner, f"pairs[{k}]", "two non-empty sentences", pair)
            src.append(self.source_vocab_.encode(s)[: config.max_length])
            tgt.append(self.target_vocab_.encode(t)[: config.max_length - 1])
        return src, tgt

    def _batches(self, src, tgt, rng: np.random.Generator):
        """Batches of pairs of similar source length (less padding), in random order."""
        order = np.argsort([len(s) + rng.random() for s in src], kind="stable")
        size = self.config.batch_size
        chunks = [order[i : i + size] for i in range(0, len(order), size)]
        for j in rng.permutation(len(chunks)):
            idx = chunks[j]
            source = _pad([src[i] for i in idx])
            target = _pad([[START, *tgt[i], END] for i in idx])
            yield source, target[:, :-1], target[:, 1:]

    # -- training -----------------------------------------------------------------------------
    def fit(
        self,
        pairs,
        validation=None,
        minutes: float | None = None,
        verbose: int = 1,
        *,
        device=None,
        distributed: bool = False,
    ):
        """Build the vocabularies from ``pairs`` (``(source, target)`` strings) and train.

        ``validation``: ``{source: [references]}`` scored with BLEU after each epoch (the best
        epoch's weights are kept); ``minutes``: stop after the epoch that crosses this budget
        (rank 0's clock under ``distributed``); ``device``: where the network trains and then
        translates; ``distributed``: data-parallel in a torch.distributed process group (each
        batch's pairs cut into one share per process, the gradients summed weighted by each
        share's target tokens: one process's step on the whole batch; only rank 0 prints).
        """
        config = self.config.validate()
        owner = "Translator.fit"
        pairs = list(pairs)
        if not pairs:
            V.fail(owner, "pairs", "at least one (source, target) pair", pairs)
        for k, pair in enumerate(pairs):
            if (
                not isinstance(pair, (tuple, list))
                or len(pair) != 2
                or not all(isinstance(x, str) for x in pair)
            ):
                V.fail(owner, f"pairs[{k}]", "a (source, target) pair of strings", pair)
        set_random_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        tok = [(_tokens(s, config.level), _tokens(t, config.level)) for s, t in pairs]
        self.source_vocab_ = TokenVocab.build(
            [s for s, _ in tok], config.source_words, config.min_count
        )
        self.target_vocab_ = TokenVocab.build(
            [t for _, t in tok], config.target_words, config.min_count
        )
        src, tgt = self._encode_pairs(pairs, owner)
        self.net_ = seq2seq.build(config, len(self.source_vocab_), len(self.target_vocab_))
        model = self.net_.model
        self.to(device, owner)
        where = self._device()
        group = distributed_module.group_of(owner, distributed, where)
        if group is not None:  # rank 0's weights and generator on every rank; rank 0 prints
            group.synchronize_random()
            group.broadcast_parameters(model)
            verbose = verbose if group.writes else 0
        params = [p for p in model.parameters() if p.requires_grad]
        runtime.tune_allocator()  # as Sequential.fit: large buffers stay in the heap
        optimizer = make_optimizer(params, config.learning_rate)
        self.history_ = History()
        self.history_.on_train_begin()
        best, best_state = -1.0, None
        start = time.perf_counter()
        for epoch in range(config.epochs):
            model.train()
            total, count = 0.0, 0
            batches = list(self._batches(src, tgt, rng))
            bar = _progress(batches, f"epoch {epoch + 1}/{config.epochs}", verbose)
            for source, target_in, target_out in bar:
                source, target_in = source.to(where), target_in.to(where)
                target_out = target_out.to(where)
                n = int((target_out != PAD).sum())  # the batch's target tokens
                value = train_step(
                    self.net_,
                    optimizer,
                    params,
                    config.clipnorm,
                    source,
                    target_in,
                    target_out,
                    group=group,
                )
                total, count = total + value * n, count + n
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{total / count:.3f}")
            model.eval()
            logs = {"loss": total / count}
            if validation:
                sources = list(validation)
                bleu = score(self.translate(sources), [validation[s] for s in sources])["bleu"]
                logs["val_bleu"] = bleu
            logs["minutes"] = (time.perf_counter() - start) / 60
            self.history_.on_epoch_end(epoch, logs)
            if validation:
                if verbose:
                    print(
                        f"epoch {epoch + 1}: loss {total / count:.4f}, validation BLEU {bleu:.2f}"
                    )
                if bleu > best:
                    best = bleu
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif verbose:
                print(f"epoch {epoch + 1}: loss {total / count:.4f}")
            if minutes is not None:
                over = time.perf_counter() - start > minutes * 60
                if over if group is None else group.decide(over):
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
            self.best_epoch_ = int(np.argmax(self.history_.history["val_bleu"])) + 1
        model.eval()
        return self

    def to(self, device, owner: str = "Translator.to") -> Translator:
        """Move the network to ``device`` (``None``: leave it); returns ``self``."""
        if device is not None:
            self._require_fitted(owner.split(".")[-1])
            self.net_.model.to(torch_device(owner, device))
        return self

    def _device(self) -> torch.device:
        return next(self.net_.model.parameters()).device

    def _require_fitted(self, method: str) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError(
                f"Translator.{method}: the translator is not trained; call fit(pairs) or "
                "Translator.load(path)."
            )

    # -- translation --------------------------------------------------------------------------
    @torch.no_grad()
    def translate(
        self, texts, beam: int = 1, max_len: int | None = None, batch_size: int = 64
    ) -> list[str]:
        """Translations of ``texts`` (a string or a list): greedy (``beam=1``) or beam search
        with length normalisation; at most ``max_len`` tokens each (default: 1.5 times the
        source's tokens, plus 5)."""
        self._require_fitted("translate")
        owner = "Translator.translate"
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        beam = V.positive_int(owner, "beam", beam)
        if max_len is not None:
            max_len = V.positive_int(owner, "max_len", max_len)
        out = []
        for i in range(0, len(texts), batch_size):
            chunk = texts[i : i + batch_size]
            rows = []
            for k, text in enumerate(chunk):
                if not isinstance(text, str) or not text.strip():
                    V.fail(owner, f"texts[{i + k}]", "a non-empty sentence", text)
                rows.append(self.source_vocab_.encode(_tokens(text, self.config.level)))
            limit = max_len or (int(1.5 * max(map(len, rows))) + 5)
            source = _pad(rows).to(self._device())
            ids = self._greedy(source, limit) if beam == 1 else self._beam(source, beam, limit)
            out += [_join(self.target_vocab_.decode(r), self.config.level) for r in ids]
        return out[0] if single else out

    def _greedy(self, source: torch.Tensor, limit: int) -> list[list[int]]:
        net = self.net_
        net.model.eval()
        enc, mask, state = seq2seq.encode(net, source)
        prev = torch.full((len(source),), START, dtype=torch.int64, device=source.device)
        steps, done = [], torch.zeros(len(source), dtype=torch.bool, device=source.device)
        for _ in range(limit):
            logp, state = seq2seq.decode_step(net, prev, state, enc, mask)
            prev = logp.argmax(-1)
            steps.append(prev)
            done |= prev == END
            if bool(done.all()):
                break
        return torch.stack(steps, 1).tolist()

    def _beam(self, source: torch.Tensor, K: int, limit: int) -> list[list[int]]:
        """Beam search: ``K`` hypotheses per sentence, scored by their log-probability per
        token (length normalisation); a hypothesis that ends is kept aside."""
        net = self.net_
        net.model.eval()
        N = len(source)
        enc, mask, state = seq2seq.encode(net, source)
        rep = lambda t: t.repeat_interleave(K, dim=0)  # noqa: E731
        enc, mask, state = rep(enc), rep(mask), [rep(s) for s in state]
        on = source.device
        scores = torch.full((N, K), -math.inf, device=on)
        scores[:, 0] = 0.0  # one live hypothesis at first
        prev = torch.full((N * K,), START, dtype=torch.int64, device=on)
        history = torch.zeros(N * K, 0, dtype=torch.int64, device=on)
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(N)]
        for t in range(limit):
            logp, state = seq2seq.decode_step(net, prev, state, enc, mask)  # (N*K, V)
            V_ = logp.shape[-1]
            total = (scores.reshape(-1, 1) + logp).reshape(N, K * V_)
            top, idx = total.topk(K, dim=-1)  # (N, K)
            beam_idx, token = idx // V_, idx % V_
            rows = (torch.arange(N, device=on)[:, None] * K + beam_idx).reshape(-1)
            state = [s[rows] for s in state]
            history = torch.cat([history[rows], token.reshape(-1, 1)], 1)
            scores = top.clone()
            ended = token == END
            for n, k in ended.nonzero().tolist():
                if math.isfinite(float(top[n, k])):
                    finished[n].append((float(top[n, k]) / (t + 1), history[n * K + k].tolist()))
            scores[ended] = -math.inf
            prev = token.reshape(-1)
            if all(len(f) >= K for f in finished) or bool(torch.isinf(scores).all()):
                break
        out = []
        for n in range(N):
            if not finished[n]:  # none ended within the limit: the best live one
                k = int(scores[n].argmax())
                finished[n].append((0.0, history[n * K + k].tolist()))
            out.append(max(finished[n], key=lambda item: item[0])[1])
        return out

    @torch.no_grad()
    def attention_map(self, text: str, max_len: int | None = None):
        """The greedy translation of ``text`` with the attention weights of each output token
        over the source tokens: ``(source_tokens, output_tokens, weights (T_out, S))``."""
        self._require_fitted("attention_map")
        if self.net_.attention is None:
            raise ValueError(
                "Translator.attention_map: this model has no attention (attention='none')"
            )
        tokens = _tokens(text, self.config.level) if isinstance(text, str) else []
        if not tokens:
            V.fail("Translator.attention_map", "text", "a non-empty sentence", text)
        source = _pad([self.source_vocab_.encode(tokens)]).to(self._device())
        net = self.net_
        enc, mask, state = seq2seq.encode(net, source)
        prev = torch.full((1,), START, dtype=torch.int64, device=source.device)
        out, weights = [], []
        for _ in range(max_len or int(1.5 * len(tokens)) + 5):
            logp, state = seq2seq.decode_step(net, prev, state, enc, mask, weights)
            prev = logp.argmax(-1)
            if int(prev) == END:
                weights.pop()
                break
            out.append(self.target_vocab_.tokens[int(prev)])
        shown = [t if self.source_vocab_.ids.get(t) else f"{t}?" for t in tokens]
        return (
            shown,
            out,
            torch.stack(weights)[:, 0].cpu().numpy() if weights else np.zeros((0, len(tokens))),
        )

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, references: dict[str, list[str]], beam: int = 1) -> dict:
        """BLEU and chrF of the translations of ``references``' sources against all their
        references (:func:`~rnnkit.tasks.translate.score`)."""
        sources = list(references)
        start = time.perf_counter()
        hypotheses = self.translate(sources, beam=beam)
        seconds = time.perf_counter() - start
        result = score(hypotheses, [references[s] for s in sources])
        result["sentences_per_s"] = len(sources) / seconds
        return result

    # -- persistence --------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> None:
        """Write ``path/`` (weights as safetensors, vocabularies and config as JSON) atomically;
        a translator already saved there is replaced, anything else refused unless
        ``overwrite``."""
        from safetensors.torch import save_file

        self._require_fitted("save")

        def write(tmp: Path) -> None:
            state = {k: v.detach().contiguous() for k, v in self.net_.model.state_dict().items()}
            save_file(state, str(tmp / WEIGHTS_FILE))
            (tmp / SOURCE_VOCAB).write_text(self.source_vocab_.to_json(), encoding="utf-8")
            (tmp / TARGET_VOCAB).write_text(self.target_vocab_.to_json(), encoding="utf-8")
            task = {"task": "translate", "config": self.config.to_dict()}
            (tmp / TASK_FILE).write_text(json.dumps(task, indent=2) + "\n", encoding="utf-8")

        _files.write_dir(
            path,
            write,
            owner="Translator.save",
            is_ours=lambda existing: (existing / TASK_FILE).is_file(),
            managed=SAVED_NAMES,
            overwrite=overwrite,
        )

    @classmethod
    def load(cls, path) -> Translator:
        """A translator saved by :meth:`save`."""
        from safetensors.torch import load_file

        path = Path(path)
        try:
            task = json.loads((path / TASK_FILE).read_text(encoding="utf-8"))
            if not isinstance(task, dict) or task.get("task") != "translate":
                raise ValueError(f"{TASK_FILE} is not a translator's")
            config = TranslateConfig.from_dict(task["config"])
            source_vocab = TokenVocab.from_json((path / SOURCE_VOCAB).read_text("utf-8"))
            target_vocab = TokenVocab.from_json((path / TARGET_VOCAB).read_text("utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(
                f"Translator.load: `path` expected a saved translator, received {str(path)!r}: {e}"
            ) from None
        tr = cls(config)
        tr.source_vocab_, tr.target_vocab_ = source_vocab, target_vocab
        tr.net_ = seq2seq.build(config, len(source_vocab), len(target_vocab))
        tr.net_.model.load_state_dict(load_file(str(path / WEIGHTS_FILE)))
        tr.net_.model.eval()
        return tr


def _progress(items, desc: str, verbose: int):
    if verbose != 1:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)
