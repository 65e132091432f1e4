"""`rnnkit bench --precision bf16`: the option, what the child builds, and the table's honest
note on CPUs without bfloat16 hardware (tests of the rest of the command: test_bench_cli.py)."""

from __future__ import annotations

import json

import pytest

from rnnkit import cli
from rnnkit.bench import runner, seed


@pytest.fixture
def no_run(monkeypatch):
    seen = []

    def refuse(settings, say=print):
        seen.append(settings)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", refuse)
    return seen


def test_1_precision_option_becomes_the_setting(no_run):
    with pytest.raises(KeyboardInterrupt):
        cli.main(["bench", "--quick", "--precision", "bf16"])
    assert no_run == [runner.quick(precision="bf16")]
    assert runner.Settings().precision == "float32"


def test_2_a_bad_precision_is_an_argument_expected_received_error(capsys, no_run):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--precision", "fp16"])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "rnnkit bench: error: argument --precision: expected one of 'float32', 'bf16', "
        "received 'fp16'"
    )
    assert no_run == []


def test_3_the_rnnkit_child_gets_the_precision_and_pytorch_stays_float32(tmp_path):
    settings = runner.Settings(precision="bf16")
    spec, _ = runner.child_spec("rnnkit", 1, settings, tmp_path / "t.npz")
    assert spec["precision"] == "bf16"
    spec, _ = runner.child_spec("torch-tuned", 1, settings, tmp_path / "t.npz")
    assert "precision" not in spec


def fake(train):
    return {"train_s": train, "infer64_s": 0.01, "infer1_s": 0.001, "autotune": None}


@pytest.mark.parametrize(
    "extensions, note",
    [
        (["avx2", "fma"], "emulated: no avx512_bf16/amx"),
        (["avx2", "avx512_bf16"], "in hardware: avx512_bf16"),
        (["amx_tile", "amx_bf16"], "in hardware: amx_bf16"),
    ],
)
def test_4_the_table_names_the_bf16_row_and_says_whether_it_is_emulated(extensions, note):
    settings = runner.Settings(threads=(1,), repeats=1, precision="bf16")
    runs = {("rnnkit", 1): [fake(0.4)], ("torch-tuned", 1): [fake(0.2)]}
    info = {"cpu": "c", "cpu_extensions": extensions}
    data = runner.report(settings, ["rnnkit", "torch-tuned"], runs, [], info, "src")
    text = runner.format_report(data)
    assert "rnnkit bf16" in text and "PyTorch tuned / rnnkit bf16" in text
    assert "rnnkit bf16: LSTM GEMMs in bfloat16" in text and note in text
    assert data["settings"]["precision"] == "bf16"
    float32 = runner.format_report(
        runner.report(runner.Settings(threads=(1,), repeats=1), ["rnnkit"], runs, [], info, "s")
    )
    assert "bf16" not in float32


def test_5_quick_bf16_runs_end_to_end(capsys, tmp_path):
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--seq-len", "4", "--steps", "1", "--tokens", "uniform"]
    assert cli.main([*argv, "--precision", "bf16", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "rnnkit bf16" in text and "LSTM GEMMs in bfloat16" in text
    data = json.loads(out.read_text())
    assert data["errors"] == [] and data["settings"]["precision"] == "bf16"
    assert all(r["ms"] > 0 for r in data["results"])


def test_6_the_child_builds_a_bf16_lstm(tmp_path, monkeypatch):
    import numpy as np

    x = np.random.default_rng(0).integers(1, 100, size=(seed.BATCH, 4))
    np.savez(tmp_path / "t.npz", x=x, y=(x[:, 0] % 2).astype(np.float32))
    spec = {
        "T": 4, "threads": 1, "steps": 1, "chunks": 1, "infer_seconds": 0.0,
        "tokens": str(tmp_path / "t.npz"), "kind": "rnnkit", "impl": "auto", "precision": "bf16",
    }  # fmt: skip
    monkeypatch.setattr(seed, "INFER_WARMUP", {"infer64": 0, "infer1": 0})
    result = seed.child_rnnkit(spec)
    assert result["runtime"]["lstm_precision"] == "bf16"
