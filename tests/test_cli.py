"""The `rnnkit` command: every option explained and checked before any data is read; output
locations checked before training; nothing rnnkit did not write replaced without --overwrite."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
from dataclasses import fields

import numpy as np
import pytest

from rnnkit import __version__, cli
from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig

TINY = dict(
    recipe="seed", num_words=50, maxlen=12, embedding_dim=4, units=4, epochs=1, batch_size=8
)
TEXTS = ["a great wonderful film", "awful boring terrible film"] * 8
LABELS = [1, 0] * 8


class DataRead(Exception):
    """Raised by the stand-in data loader: the command got past its checks."""


@pytest.fixture
def no_data(monkeypatch):
    """Reading the data set fails loudly: errors must come before it."""

    def refuse(data_dir):
        raise DataRead(data_dir)

    monkeypatch.setattr(cli.sentiment, "_load_reviews", refuse)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "model"
    SentimentClassifier(SentimentConfig(**TINY)).fit(TEXTS, LABELS, verbose=0).save(path)
    return path


def error_of(capsys, argv) -> str:
    """The last line on stderr of `rnnkit argv`, which must exit with status 2."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


# -- help and version ---------------------------------------------------------------------------
def _parsers(parser, name="rnnkit"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_1_every_option_of_every_command_has_its_own_help():
    seen = 0
    for name, parser in _parsers(cli.build_parser()):
        helps = []
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and action.help.strip() and action.help != argparse.SUPPRESS, (
                name,
                action.dest,
            )
            helps.append(action.help)
            seen += 1
        assert len(helps) == len(set(helps)), f"{name}: two options share a help text"
    assert seen > 40


def test_2_train_help_shows_each_config_field_with_its_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sentiment", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in fields(SentimentConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in text
        assert " ".join(f.metadata["help"].split()) in text, f.name
        assert f"(default: {f.default})" in text


def test_3_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"rnnkit {__version__}"


def test_4_defaults_are_the_config_defaults():
    parser = cli.build_parser()
    args = parser.parse_args(["sentiment", "train"])
    assert SentimentConfig.from_args(args) == SentimentConfig()
    assert cli.TrainRun.from_args(args) == cli.TrainRun()
    args = parser.parse_args(["summary"])  # the recipe's values (#19: no longer in the args)
    config = SentimentConfig.from_args(args)
    assert (config.num_words, config.embedding_dim, config.units) == (10000, 128, 128)


# -- option values ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, message",
    [
        (["sentiment", "train", "--limit", "0"], "rnnkit sentiment train: error: argument --limit: expected a positive integer, received 0"),
        (["sentiment", "train", "--limit", "-5"], "rnnkit sentiment train: error: argument --limit: expected a positive integer, received -5"),
        (["sentiment", "train", "--test-limit", "0"], "rnnkit sentiment train: error: argument --test-limit: expected a positive integer, received 0"),
        (["sentiment", "train", "--maxlen", "1e9"], "rnnkit sentiment train: error: argument --maxlen: expected an integer in [1, 100000], received '1e9'"),
        (["sentiment", "train", "--maxlen", "1000000000"], "rnnkit sentiment train: error: argument --maxlen: expected an integer in [1, 100000], received 1000000000"),
        (["sentiment", "train", "--units", "5000"], "rnnkit sentiment train: error: argument --units: expected an integer in [1, 4096], received 5000"),
        (["sentiment", "train", "--num-words", "3"], "rnnkit sentiment train: error: argument --num-words: expected an integer in [4, 1000000], received 3"),
        (["sentiment", "train", "--dropout", "1"], "rnnkit sentiment train: error: argument --dropout: expected a number in [0, 1), received 1"),
        (["sentiment", "train", "--learning-rate", "nan"], "rnnkit sentiment train: error: argument --learning-rate: expected a positive number, received nan"),
        (["sentiment", "train", "--cell", "gpt"], "rnnkit sentiment train: error: argument --cell: expected one of 'lstm', 'gru', 'simple_rnn', received 'gpt'"),
        (["sentiment", "train", "--verbose", "3"], "rnnkit sentiment train: error: argument --verbose: expected one of 0, 1, 2, received 3"),
        (["sentiment", "train", "--recipe", "seed", "--patience", "2"], "rnnkit sentiment train: error: SentimentConfig: `patience` expected to be used with a validation_split > 0, received 2 (int)."),
        (["sentiment", "evaluate", "m", "--test-limit", "0"], "rnnkit sentiment evaluate: error: argument --test-limit: expected a positive integer, received 0"),
        (["summary", "--units", "0"], "rnnkit summary: error: argument --units: expected an integer in [1, 4096], received 0"),
    ],
)  # fmt: skip
def test_5_bad_values_are_argparse_errors_before_any_data(capsys, no_data, argv, message):
    assert error_of(capsys, argv) == message


def test_6_threads_capped(capsys, no_data):
    top = cli.max_threads()
    assert top == 4 * os.cpu_count()
    assert error_of(capsys, ["sentiment", "predict", "m", "x", "--threads", "100000"]) == (
        "rnnkit sentiment predict: error: argument --threads: expected an integer in "
        f"[1, {top}], received 100000"
    )
    args = cli.build_parser().parse_args(["sentiment", "predict", "m", "--threads", str(top)])
    assert args.threads == top


# -- output locations ---------------------------------------------------------------------------
def train_argv(out, *more):
    return ["sentiment", "train", "--out", str(out), "--limit", "10", *more]


def test_7_out_must_be_a_folder_checked_before_data(tmp_path, capsys, no_data):
    (tmp_path / "afile").write_text("x")
    assert error_of(capsys, train_argv(tmp_path / "afile")) == (
        "rnnkit sentiment train: error: argument --out: expected a folder, received "
        f"'{tmp_path / 'afile'}', a file"
    )
    assert error_of(capsys, train_argv(tmp_path / "afile" / "run")) == (
        "rnnkit sentiment train: error: argument --out: expected a folder, received "
        f"'{tmp_path / 'afile' / 'run'}', inside '{tmp_path / 'afile'}', which is a file"
    )
    with pytest.raises(DataRead):  # a new folder in a writable place: on to the data
        cli.main(train_argv(tmp_path / "new" / "run"))
    assert not (tmp_path / "new").exists()  # nothing created before training


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_8_out_in_a_read_only_folder(tmp_path, capsys, no_data):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        err = error_of(capsys, train_argv(locked / "run"))
    finally:
        locked.chmod(stat.S_IRWXU)
    assert err == (
        "rnnkit sentiment train: error: argument --out: expected a folder in a writable "
        f"place, received '{locked / 'run'}' (permission denied in '{locked}')"
    )


def test_9_out_where_no_file_can_be_made(tmp_path, capsys, no_data, monkeypatch):
    """As root cannot be refused by permissions, the probe's failure is simulated."""

    def denied(**kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "mkstemp", denied)
    assert error_of(capsys, train_argv(tmp_path / "run")) == (
        "rnnkit sentiment train: error: argument --out: expected a folder in a writable "
        f"place, received '{tmp_path / 'run'}' (permission denied in '{tmp_path}')"
    )


def test_10_foreign_files_under_out_refused_unless_overwrite(tmp_path, capsys, no_data):
    """Old behaviour: `--out X` replaced X/model/ whole, deleting X/model/thesis.txt."""
    out = tmp_path / "run"
    (out / "model").mkdir(parents=True)
    (out / "model" / "thesis.txt").write_text("precious")
    (out / "metrics.json").write_text('{"mine": 1}')
    (out / "training.png").write_bytes(b"\x89PNG my own drawing")
    assert error_of(capsys, train_argv(out)) == (
        "rnnkit sentiment train: error: argument --out: expected a new folder or one written "
        f"by `rnnkit sentiment train`, received '{out}', where rnnkit would replace what it "
        "did not write: model/thesis.txt, metrics.json, training.png; pass --overwrite to "
        "replace them, or choose another --out"
    )
    assert (out / "model" / "thesis.txt").read_text() == "precious"
    with pytest.raises(DataRead):
        cli.main(train_argv(out, "--overwrite"))


def test_11_rnnkit_outputs_are_not_foreign(tmp_path, tiny_model):
    from rnnkit.models.callbacks import History
    from rnnkit.tasks.sentiment import plot_history

    out = tmp_path / "run"
    SentimentClassifier.load(tiny_model).save(out / "model")
    history = History()
    history.on_epoch_end(0, {"loss": 0.7, "accuracy": 0.5})
    plot_history(history, out / "training.png")
    (out / "metrics.json").write_text(json.dumps({"config": {}, "test": {}}))
    assert cli.foreign_outputs(out) == []
    (out / "model" / "sentiment.json").write_text('{"task": "translate"}')
    assert cli.foreign_outputs(out) == ["model/sentiment.json"]


def test_12_json_and_explain_dir_checked_before_loading(tmp_path, capsys, tiny_model):
    (tmp_path / "afile").write_text("x")
    assert error_of(capsys, ["sentiment", "evaluate", "nothing", "--json", str(tmp_path)]) == (
        f"rnnkit sentiment evaluate: error: argument --json: expected a file, received "
        f"'{tmp_path}', a folder"
    )
    argv = ["sentiment", "predict", str(tiny_model), "good", "--explain"]
    assert error_of(capsys, [*argv, "--explain-dir", str(tmp_path / "afile")]) == (
        "rnnkit sentiment predict: error: argument --explain-dir: expected a folder, received "
        f"'{tmp_path / 'afile'}', a file"
    )


# -- reviews read by `predict` ------------------------------------------------------------------
def test_13_file_must_be_a_regular_file_of_bounded_size(tmp_path, capsys, tiny_model, monkeypatch):
    predict = ["sentiment", "predict", str(tiny_model), "--file"]
    assert error_of(capsys, [*predict, str(tmp_path)]) == (
        f"rnnkit sentiment predict: error: argument --file: expected a file, received "
        f"'{tmp_path}', a folder"
    )
    assert error_of(capsys, [*predict, "/dev/zero"]) == (
        "rnnkit sentiment predict: error: argument --file: expected a file, received "
        "'/dev/zero', a special file (device, pipe or socket)"
    )
    assert error_of(capsys, [*predict, str(tmp_path / "none.txt")]) == (
        "rnnkit sentiment predict: error: argument --file: expected a readable file, received "
        f"'{tmp_path / 'none.txt'}' (no such file or directory)"
    )
    big = tmp_path / "big.txt"
    big.write_text("good film\n" * 20)
    monkeypatch.setattr(cli._common, "MAX_INPUT_BYTES", 100)
    assert error_of(capsys, [*predict, str(big)]) == (
        "rnnkit sentiment predict: error: argument --file: expected a file of at most 0 MiB, "
        f"received '{big}', 200 bytes"
    )
    monkeypatch.undo()
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 terrible\n")
    assert error_of(capsys, [*predict, str(tmp_path / "bad.txt")]) == (
        "rnnkit sentiment predict: error: argument --file: expected UTF-8 text, received "
        f"'{tmp_path / 'bad.txt'}', which is not UTF-8 (byte 3: b'\\xe9')"
    )


def test_14_reviews_end_at_newline_only():
    """Old behaviour: str.splitlines also split at CR, U+2028 and U+0085 (4 reviews here)."""
    raw = "great film\rreally\u2028truly\u0085good\r\n\n  \nawful\n".encode()
    assert cli.split_lines(raw) == ["great film\rreally\u2028truly\u0085good", "awful"]


def test_15_file_reviews_through_the_command(tmp_path, capsys, tiny_model):
    path = tmp_path / "reviews.txt"
    path.write_bytes("great film\rreally\u2028good\r\nawful film\n".encode())
    assert cli.main(["sentiment", "predict", str(tiny_model), "--file", str(path)]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert [line.split("\t")[2] for line in lines if line] == [
        "great film\rreally\u2028good",
        "awful film",
    ]


# -- the saved config and checkpoints -----------------------------------------------------------
def test_16_saved_config_validated_before_building(tmp_path, tiny_model):
    """Old behaviour: maxlen 1e9 in sentiment.json loaded, then predict allocated 7.45 GiB."""
    import shutil

    damaged = tmp_path / "model"
    shutil.copytree(tiny_model, damaged)
    task = json.loads((damaged / "sentiment.json").read_text())
    task["config"]["maxlen"] = 1_000_000_000
    (damaged / "sentiment.json").write_text(json.dumps(task))
    message = (
        f"SentimentClassifier.load: `path` expected a saved sentiment model, received "
        f"'{damaged}': sentiment.json: SentimentConfig: `maxlen` expected an integer in "
        "[1, 100000], received 1000000000 (int)."
    )
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        SentimentClassifier.load(damaged)


def test_17_checkpoint_dir_and_resume_checked_before_data(tmp_path, capsys, no_data):
    full = tmp_path / "ckpt"
    full.mkdir()
    (full / "state").write_text("x")
    assert error_of(capsys, train_argv(tmp_path / "run", "--checkpoint-dir", str(full))) == (
        "rnnkit sentiment train: error: SentimentConfig: `checkpoint_dir` expected a new or "
        f"empty folder, received '{full}', which holds a checkpoint; pass resume=True "
        "(--resume) to continue that training, or choose another folder."
    )
    empty = tmp_path / "empty"
    argv = train_argv(tmp_path / "run", "--checkpoint-dir", str(empty), "--resume")
    assert error_of(capsys, argv) == (
        "rnnkit sentiment train: error: SentimentConfig: `resume` expected a checkpoint in "
        f"checkpoint_dir '{empty}', received an empty or missing folder."
    )
    assert error_of(capsys, train_argv(tmp_path / "run", "--resume")) == (
        "rnnkit sentiment train: error: SentimentConfig: `resume` expected to be used with a "
        "checkpoint_dir, received True (bool)."
    )
    with pytest.raises(DataRead):
        cli.main(train_argv(tmp_path / "run", "--checkpoint-dir", str(full), "--resume"))


def test_19_interrupted_training_resumes_from_the_checkpoint(tmp_path):
    from rnnkit.models import Callback

    class Stop(Exception):
        pass

    class StopAtEpoch2(Callback):  # the same callbacks in both runs, as a resumed job has
        def __init__(self, active):
            super().__init__()
            self.active = active

        def on_epoch_begin(self, epoch, logs=None):
            if self.active and epoch == 2:
                raise Stop

    ckpt = tmp_path / "ckpt"
    config = SentimentConfig(**dict(TINY, epochs=4), checkpoint_dir=str(ckpt))
    with pytest.raises(Stop):
        SentimentClassifier(config).fit(TEXTS, LABELS, callbacks=[StopAtEpoch2(True)], verbose=0)
    assert any(ckpt.iterdir())  # the interrupted run left its checkpoint
    with pytest.raises(ValueError, match=r"holds a checkpoint; pass resume=True"):
        SentimentClassifier(config).fit(TEXTS, LABELS, verbose=0)
    config.resume = True
    clf = SentimentClassifier(config).fit(TEXTS, LABELS, callbacks=[StopAtEpoch2(False)], verbose=0)
    assert clf.history_.epoch == [0, 1, 2, 3]  # the whole run's history, the first two restored
    assert not ckpt.exists() or not any(ckpt.iterdir())  # deleted once training ended
    assert np.isfinite(clf.positive_probability(["a great film"])).all()


def test_20_standard_input_read_as_lines_with_a_cap(capsys, tiny_model, monkeypatch):
    import io

    class Stdin(io.TextIOWrapper):
        def isatty(self):
            return False

    def feed(raw: bytes):
        monkeypatch.setattr(cli.sys, "stdin", Stdin(io.BytesIO(raw), encoding="utf-8"))

    feed("great\u2028film\r\nawful\n".encode())
    assert cli.main(["sentiment", "predict", str(tiny_model)]) == 0
    out = capsys.readouterr().out.split("\n")
    assert [line.split("\t")[2] for line in out if line] == ["great\u2028film", "awful"]
    feed(b"caf\xe9\n")
    assert error_of(capsys, ["sentiment", "predict", str(tiny_model)]) == (
        "rnnkit sentiment predict: error: standard input: expected UTF-8 text, received "
        "standard input, which is not UTF-8 (byte 3: b'\\xe9')"
    )
    feed(b"good film\n" * 20)
    monkeypatch.setattr(cli._common, "MAX_INPUT_BYTES", 100)
    assert error_of(capsys, ["sentiment", "predict", str(tiny_model), "--file", "-"]) == (
        "rnnkit sentiment predict: error: argument --file: expected at most 0 MiB of reviews, "
        "received more"
    )


def test_21_saved_config_leaves_out_the_checkpoint_settings(tmp_path, tiny_model):
    clf = SentimentClassifier.load(tiny_model)
    clf.config.checkpoint_dir, clf.config.resume = str(tmp_path / "ckpt"), True
    clf.save(tmp_path / "again")
    saved = json.loads((tmp_path / "again" / "sentiment.json").read_text())["config"]
    assert (saved["checkpoint_dir"], saved["resume"], saved["maxlen"]) == (None, False, 12)


def test_22_fit_passes_backup_and_restore_first(tmp_path, monkeypatch):
    """The wiring: BackupAndRestore comes first, with the run's settings."""
    from rnnkit.models import Sequential, callbacks

    made = {}

    class FakeBackup(callbacks.BackupAndRestore):
        def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
            super().__init__(backup_dir, save_freq, delete_checkpoint)
            made.update(dir=backup_dir, save_freq=save_freq, delete=delete_checkpoint)

    seen = {}
    real_fit = Sequential.fit

    def spy(self, x, y, **kw):
        seen["callbacks"] = [type(c).__name__ for c in kw["callbacks"]]
        return real_fit(self, x, y, **kw)

    monkeypatch.setattr(callbacks, "BackupAndRestore", FakeBackup)
    monkeypatch.setattr(Sequential, "fit", spy)
    ckpt = str(tmp_path / "ckpt")
    config = SentimentConfig(**TINY, checkpoint_dir=ckpt, checkpoint_steps=3)
    SentimentClassifier(config).fit(TEXTS, LABELS, verbose=0)
    assert made == {"dir": ckpt, "save_freq": 3, "delete": True}
    assert seen["callbacks"][0] == "FakeBackup"
    config = SentimentConfig(**TINY, checkpoint_dir=ckpt)
    SentimentClassifier(config).fit(TEXTS, LABELS, verbose=0)
    assert made["save_freq"] == "epoch"


def test_23_saved_folders_follow_the_umask(tmp_path, tiny_model):
    """Old behaviour: the saved folder and its model/ were 0o700 (made by mkdtemp)."""
    clf = SentimentClassifier.load(tiny_model)
    old = os.umask(0o022)
    try:
        clf.save(tmp_path / "saved")
    finally:
        os.umask(old)
    for folder in (tmp_path / "saved", tmp_path / "saved" / "model"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
    assert stat.S_IMODE((tmp_path / "saved" / "sentiment.json").stat().st_mode) == 0o644


def test_24_output_cut_short_by_the_reader_is_not_an_error(tmp_path, tiny_model):
    """Old behaviour: `rnnkit sentiment predict ... | head -1` ended in a BrokenPipeError."""
    import subprocess
    import sys

    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a great wonderful film indeed\n" * 5000)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    argv = [sys.executable, "-m", "rnnkit.cli", "sentiment", "predict", str(tiny_model)]
    proc = subprocess.Popen(
        [*argv, "--file", str(reviews)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout.readline().endswith(b"a great wonderful film indeed\n")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


def test_25_the_command_starts_without_the_heavy_libraries():
    """`rnnkit --help` and argument errors come before torch, scikit-learn, statsmodels,
    pandas, sacrebleu or FastAPI are imported. Old behaviour: after the lab's command was
    added, `import rnnkit.cli` imported torch (2 s) through rnnkit.lab's package."""
    import subprocess
    import sys

    heavy = ("torch", "sklearn", "statsmodels", "pandas", "sacrebleu", "fastapi", "h5py")
    code = f"import sys, rnnkit.cli; print([m for m in {heavy!r} if m in sys.modules])"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "[]", out.stderr
