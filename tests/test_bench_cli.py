"""`rnnkit bench`: options explained and checked, the CPU read from /proc/cpuinfo, the token
ids every peer reads, the report, and one seconds-long run end to end (--quick)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit import cli
from rnnkit._cpu import EXTENSIONS, describe, parse_cpuinfo
from rnnkit.bench import runner, seed


def error_of(capsys, argv) -> str:
    """The last line on stderr of `rnnkit argv`, which must exit with status 2."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture
def no_run(monkeypatch):
    """Measuring fails loudly: option errors must come before it; returns the settings."""
    seen = []

    def refuse(settings, say=print):
        seen.append(settings)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run", refuse)
    return seen


# -- 1. options --------------------------------------------------------------------------------
def test_1_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--threads", "--seq-len", "--repeats", "--steps", "--tokens", "--data-dir"):
        assert flag in text
    for flag in ("--json", "--quick", "imdb", "synthetic", "uniform", "RNNKIT_AUTOTUNE"):
        assert flag in text
    assert "each peer" in text.lower() or "its own process" in text


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], runner.Settings()),
        (["--quick"], runner.quick()),
        (
            ["--quick", "--threads", "2", "1", "2", "--seq-len", "50", "--tokens", "uniform"],
            runner.quick(threads=(2, 1), seq_len=50, tokens="uniform"),
        ),
        (
            ["--repeats", "2", "--steps", "5", "--data-dir", "d"],
            runner.Settings(repeats=2, steps=5, data_dir="d"),
        ),
    ],
)
def test_2_options_become_settings_quick_only_changes_the_defaults(no_run, argv, expected):
    with pytest.raises(KeyboardInterrupt):
        cli.main(["bench", *argv])
    assert no_run == [expected]


def test_3_quick_defaults_are_small():
    q = runner.quick()
    assert (q.threads, q.seq_len, q.repeats, q.steps, q.chunks) == ((1,), 32, 1, 2, 1)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threads", "0"], "argument --threads: expected an integer in [1, {top}], received 0"),
        (["--threads", "x"], "argument --threads: expected an integer in [1, {top}], received 'x'"),
        (["--seq-len", "0"], "argument --seq-len: expected an integer in [1, 10000], received 0"),
        (["--repeats", "101"], "argument --repeats: expected an integer in [1, 100], received 101"),
        (["--steps", "-1"], "argument --steps: expected an integer in [1, 10000], received -1"),
        (
            ["--tokens", "random"],
            "argument --tokens: expected one of 'imdb', 'synthetic', 'uniform', received 'random'",
        ),
    ],
)
def test_4_bad_values_are_argument_expected_received_errors(capsys, no_run, argv, message):
    top = cli.max_threads()
    assert error_of(capsys, ["bench", *argv]) == "rnnkit bench: error: " + message.format(top=top)
    assert no_run == []


def test_5_json_into_a_folder_is_refused_before_measuring(capsys, no_run, tmp_path):
    assert error_of(capsys, ["bench", "--json", str(tmp_path)]) == (
        f"rnnkit bench: error: argument --json: expected a file, received {str(tmp_path)!r}, "
        "a folder"
    )
    assert no_run == []


# -- 2. the CPU --------------------------------------------------------------------------------
EPYC_AVX512 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu vme sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni

processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu vme
"""
EPYC_AVX2 = "processor : 0\nmodel name : AMD EPYC\nflags : fpu sse2 avx fma avx2 bmi2\n"
XEON_AMX = "model name : Intel(R) Xeon(R) Platinum 8480+\nflags : avx2 amx_bf16 amx_tile fma\n"


def test_6_cpuinfo_gives_the_model_and_the_vector_extensions_in_order():
    assert parse_cpuinfo(EPYC_AVX512) == {
        "model": "AMD EPYC 9B14",
        "extensions": ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"],
        "cores": 2,
    }  # fmt: skip
    assert parse_cpuinfo(EPYC_AVX2)["extensions"] == ["avx2", "fma"]
    assert parse_cpuinfo(XEON_AMX)["extensions"] == ["avx2", "fma", "amx_tile", "amx_bf16"]
    assert parse_cpuinfo("") == {"model": None, "extensions": [], "cores": None}
    assert describe(parse_cpuinfo(EPYC_AVX2)) == "AMD EPYC (avx2 fma)"
    assert set(EXTENSIONS) >= {"avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile"}


# -- 3. the token ids --------------------------------------------------------------------------
def test_7_synthetic_reviews_are_shaped_like_imdb():
    reviews = seed.synthetic_reviews(2000)
    lengths = np.array([len(r) for r in reviews])
    assert abs(np.median(lengths) - seed.IMDB_MEDIAN_LENGTH) < 15
    assert abs(lengths.mean() - seed.IMDB_MEAN_LENGTH) < 20
    ids = np.concatenate([np.array(r) for r in reviews])
    assert ids.min() >= 1 and ids.max() < seed.VOCAB
    assert all(r[0] == 1 for r in reviews)  # the start id, as Keras


def test_8_tokens_files_hold_the_rows_of_each_length(tmp_path):
    paths, source = seed.write_tokens("uniform", 64, [5, 9], tmp_path)
    assert source == "uniform random ids in 1..9999"
    for T, path in paths.items():
        data = np.load(path)
        assert data["x"].shape == (64, T) and data["y"].shape == (64,)
        assert data["x"].min() >= 1  # no padding
    paths, source = seed.write_tokens("imdb", 8, [7], tmp_path, data_dir=str(tmp_path / "none"))
    assert source.startswith("synthetic: IMDb not found locally (")
    x = np.load(paths[7])["x"]
    assert x.shape == (8, 7)


def test_9_imdb_tokens_come_from_the_shared_data(tmp_path, shared_data):
    paths, source = seed.write_tokens("imdb", 64, [200], tmp_path, data_dir=str(shared_data))
    assert source.startswith("IMDb training reviews")
    x = np.load(paths[200])["x"]
    assert x.shape == (64, 200) and (x == 0).any()  # short reviews padded in front


# -- 4. the report -----------------------------------------------------------------------------
def fake_result(train, infer64, infer1, autotune=None):
    out = {"train_s": train, "infer64_s": infer64, "infer1_s": infer1, "max_rss_mib": 1.0}
    if autotune is not None:
        out["autotune"] = autotune
    return out


def test_10_report_takes_medians_and_ratios_peer_over_rnnkit():
    settings = runner.Settings(threads=(1,), repeats=3)
    tuned = {"enabled": True, "decisions": [{"key": "k", "choice": "lookup", "times_ms": {}}]}
    runs = {
        ("rnnkit", 1): [fake_result(0.1, 0.02, 0.002, tuned)] * 2
        + [fake_result(0.3, 0.02, 0.002, tuned)],
        ("torch-tuned", 1): [fake_result(0.2, 0.01, 0.004)] * 3,
    }
    data = runner.report(settings, ["rnnkit", "torch-tuned"], runs, [], {"cpu": "c"}, "src")
    assert data["ratios"] == pytest.approx(
        {"torch-tuned/train/thr1": 2.0, "torch-tuned/infer64/thr1": 0.5, "torch-tuned/infer1/thr1": 2.0}
    )  # fmt: skip
    assert data["autotune"] == {"1": tuned}
    text = runner.format_report(data)
    assert "training step, batch 64" in text and "2.00x" in text and "0.50x" in text
    assert "autotuning at 1 thread(s): \n  k -> lookup" in text
    json.dumps(data)  # JSON-ready


# -- 5. end to end -----------------------------------------------------------------------------
def test_11_quick_runs_end_to_end_and_writes_the_json(capsys, tmp_path):
    out = tmp_path / "reports" / "bench.json"
    argv = ["bench", "--quick", "--seq-len", "6", "--steps", "1", "--tokens", "uniform"]
    assert cli.main([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "CPU: " in text and "PyTorch tuned / rnnkit" in text and "autotuning at 1" in text
    data = json.loads(out.read_text())
    assert set(data) == {
        "benchmark", "machine", "settings", "results", "ratios", "autotune", "errors", "wall_s"
    }  # fmt: skip
    assert data["errors"] == []
    assert {"cpu", "cpu_extensions", "logical_cpus", "torch"} <= set(data["machine"])
    assert data["settings"]["seq_len"] == 6 and data["settings"]["threads"] == [1]
    assert {(r["peer"], r["mode"]) for r in data["results"]} == {
        (p, m) for p in ("rnnkit", "torch", "torch-tuned") for m in ("train", "infer64", "infer1")
    }
    assert all(r["ms"] > 0 for r in data["results"])
    assert set(data["ratios"]) == {
        f"{p}/{m}/thr1" for p in ("torch", "torch-tuned") for m in ("train", "infer64", "infer1")
    }
    assert data["autotune"]["1"]["enabled"] is False  # the suite runs with RNNKIT_AUTOTUNE=0
