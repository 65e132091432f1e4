"""Why a language model's early validation perplexity can read thousands while its training
perplexity reads hundreds: a probe of the carried LSTM state.

How to run (from the repository root)::

    .venv/bin/python benchmarks/probe_textgen_state.py --minutes 4 --threads 2
    .venv/bin/python benchmarks/probe_textgen_state.py --set learning_rate=0.001

It trains :class:`rnnkit.tasks.language_model.LanguageModel` on Penn Treebank (2 x 400 LSTM,
tied weights, dropout 0.4, batch 32 x 35 unless ``--set`` says otherwise) for ``--minutes``,
and every ``--every`` batches scores the batch being trained on three ways, printing one line:

* ``train``: the training loss of the step (dropout on, the state carried from the batch
  before: what the training perplexity averages);
* ``eval, carried``: the same weights in evaluation mode (no dropout) from the same carried
  state;
* ``eval, zero``: the same weights in evaluation mode from a zero state (what a validation
  stream sees at its start);

with the mean ``|c|`` of each layer's carried cell state. What it showed (the same probe as a
scratch script before this file, code of 0b5c6cb, 2 threads, Adam 0.002 clipped at 0.25): ``eval, carried`` equals ``train`` to 0.1 nats, so
neither dropout nor the evaluation path (the embedding lookup, the fused loss) is the cause;
``eval, zero`` was 1-4 nats worse and the gap grew, while the mean ``|c|`` of the second layer
reached ~1,000 in the first 100 batches (the cell state integrating over the 29,000-token
training streams) before settling near 10: the network leans on a saturated, carried state that
a stream started from zero does not have. With ``--set reset_every=20`` (the state restarted
from zeros every 20 batches, the fix since) the gap stayed at most 0.23 nats over 476 batches
(code of a8061fc). Results are printed, not written: this is a probe.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import _peers


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget (default 4)")
    ap.add_argument("--every", type=int, default=25, help="probe every N batches (default 25)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=None, help="default: $RNNKIT_DATA_DIR or ../shared/data")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = ap.parse_args(argv)

    import torch

    from rnnkit.datasets.text_corpora import load_ptb
    from rnnkit.tasks.language_model import LanguageModel, LanguageModelConfig, LanguageModelNet

    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or os.environ.get("RNNKIT_DATA_DIR")
    corpus = load_ptb(data_dir or str(_peers.REPO_ROOT.parent / "shared" / "data"))
    settings = dict(embedding_dim=400, units=400, tie_weights=True, dropout=0.4, epochs=1)
    settings.update(_peers.overrides(args.set))  # JSON values, or a word
    settings["minutes"] = args.minutes
    config = LanguageModelConfig(**settings)
    print(f"probe: {config.to_dict()}", flush=True)

    loss_of = LanguageModelNet.loss
    seen = [0]
    t0 = time.perf_counter()

    def probed(net, ids, targets, state=None):
        out = loss_of(net, ids, targets, state)
        seen[0] += 1
        if seen[0] % args.every == 1:
            with torch.no_grad():
                net.eval()
                scores = []
                for start in (state, None):
                    logits, _ = net(ids, start)
                    V = logits.shape[-1]
                    ce = torch.nn.functional.cross_entropy(
                        logits.reshape(-1, V), targets.reshape(-1)
                    )
                    scores.append(float(ce))
                net.train()
            c_mean = "-" if state is None else [round(float(c.abs().mean()), 2) for _, c in state]
            print(
                f"batch {seen[0]:5d} ({time.perf_counter() - t0:5.0f} s): train "
                f"{float(out[0].detach()):.2f} | eval, carried {scores[0]:.2f} | eval, zero "
                f"{scores[1]:.2f} nats | mean |c| per layer {c_mean}",
                flush=True,
            )
        return out

    LanguageModelNet.loss = probed
    try:
        LanguageModel(config).fit(corpus.train, None, verbose=0)
    finally:
        LanguageModelNet.loss = loss_of
    return 0


if __name__ == "__main__":
    sys.exit(main())
