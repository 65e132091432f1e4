"""rnnkit.config: a dataclass declares fields with help and bounds; validation, argparse options
and JSON loading all come from it."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

import pytest

from rnnkit.config import Config, bound_text, option


@dataclass
class DemoConfig(Config):
    units: int = option(128, "hidden size", low=1, high=4096)
    cell: str = option("lstm", "recurrent cell", choices=("lstm", "gru"))
    rate: float = option(0.0, "dropout rate (100% = all)", low=0, high=1, high_open=True)
    clipnorm: float | None = option(None, "clip gradients to this norm", low=0, low_open=True)
    patience: int | None = option(None, "epochs without progress", low=0)
    shuffle: bool = option(True, "shuffle each epoch")
    bucketing: bool = option(False, "batch by length")
    name: str | None = option(None, "a label", metavar="NAME")

    def check(self):
        if self.patience is not None and self.rate == 0.0:
            raise ValueError("DemoConfig: `patience` expected to be used with a rate > 0.")


def parser_for(cls=DemoConfig) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo", exit_on_error=False)
    return cls.add_arguments(parser)


def test_1_bound_text_in_words():
    assert bound_text(int, {"low": 1}) == "a positive integer"
    assert bound_text(int, {"low": 0}) == "a non-negative integer"
    assert bound_text(int, {"low": 1, "high": 100_000}) == "an integer in [1, 100000]"
    assert bound_text(int, {"low": 4}) == "an integer >= 4"
    assert bound_text(float, {"low": 0, "low_open": True}) == "a positive number"
    assert bound_text(float, {"low": 0, "high": 1, "high_open": True}) == "a number in [0, 1)"
    assert (
        bound_text(float, {"low": 0, "high": 1, "low_open": True, "high_open": True})
        == "a number in (0, 1)"
    )
    assert bound_text(int, {"low": 1, "high": lambda: 8}) == "an integer in [1, 8]"
    assert bound_text(float, {}) == "a number"


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"units": 0}, ValueError, "DemoConfig: `units` expected an integer in [1, 4096], received 0 (int)."),
        ({"units": 2.5}, TypeError, "DemoConfig: `units` expected an integer in [1, 4096], received 2.5 (float)."),
        ({"units": True}, TypeError, "DemoConfig: `units` expected an integer in [1, 4096], received True (bool)."),
        ({"cell": "tcn"}, ValueError, "DemoConfig: `cell` expected one of 'lstm', 'gru', received 'tcn'."),
        ({"rate": 1}, ValueError, "DemoConfig: `rate` expected a number in [0, 1), received 1 (int)."),
        ({"rate": float("nan")}, ValueError, "DemoConfig: `rate` expected a number in [0, 1), received nan (float)."),
        ({"clipnorm": 0.0}, ValueError, "DemoConfig: `clipnorm` expected None or a positive number, received 0.0 (float)."),
        ({"patience": -1}, ValueError, "DemoConfig: `patience` expected None or a non-negative integer, received -1 (int)."),
        ({"shuffle": 1}, TypeError, "DemoConfig: `shuffle` expected True or False, received 1 (int)."),
        ({"name": 3}, TypeError, "DemoConfig: `name` expected None or a string, received 3 (int)."),
        ({"patience": 2}, ValueError, "DemoConfig: `patience` expected to be used with a rate > 0."),
    ],
)  # fmt: skip
def test_2_validate_names_field_expected_and_received(kwargs, exc, message):
    with pytest.raises(exc, match=re.escape(message) + "$"):
        DemoConfig(**kwargs).validate()


def test_3_valid_values_pass_and_ints_count_as_floats():
    config = DemoConfig(units=4096, rate=0.5, clipnorm=1, patience=0, name="x").validate()
    assert config.clipnorm == 1 and config.units == 4096


def test_4_options_generated_with_types_defaults_and_bools():
    parser = parser_for()
    args = parser.parse_args([])
    assert DemoConfig.from_args(args) == DemoConfig()
    args = parser.parse_args(
        ["--units", "64", "--cell", "gru", "--clipnorm", "0.5", "--no-shuffle", "--bucketing"]
    )
    config = DemoConfig.from_args(args)
    assert (config.units, config.cell, config.clipnorm) == (64, "gru", 0.5)
    assert (config.shuffle, config.bucketing, config.patience) == (False, True, None)
    # a default of True gives --x / --no-x, a default of False a plain --x
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"--shuffle", "--no-shuffle", "--bucketing"} <= flags
    assert "--no-bucketing" not in flags


@pytest.mark.parametrize(
    "formatter", [argparse.HelpFormatter, argparse.ArgumentDefaultsHelpFormatter]
)
def test_5_help_lists_help_choices_bounds_and_default(formatter):
    parser = argparse.ArgumentParser(prog="demo", formatter_class=formatter)
    DemoConfig.add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "--units UNITS hidden size; an integer in [1, 4096] (default: 128)" in text
    assert "--cell CELL recurrent cell; one of lstm, gru (default: lstm)" in text
    assert "dropout rate (100% = all); a number in [0, 1) (default: 0.0)" in text
    assert "--name NAME a label (default: None)" in text
    assert text.count("(default:") == len(DemoConfig.option_fields())  # once each


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--units", "0"], "argument --units: expected an integer in [1, 4096], received 0"),
        (["--units", "1e3"], "argument --units: expected an integer in [1, 4096], received '1e3'"),
        (["--cell", "tcn"], "argument --cell: expected one of 'lstm', 'gru', received 'tcn'"),
        (["--rate", "inf"], "argument --rate: expected a number in [0, 1), received inf"),
        (["--patience", "-5"], "argument --patience: expected a non-negative integer, received -5"),
    ],
)
def test_6_command_line_values_checked_by_argparse(argv, message):
    with pytest.raises(argparse.ArgumentError, match=re.escape(message) + "$"):
        parser_for().parse_args(argv)


def test_7_from_dict_refuses_unknown_keys_and_checks_values():
    assert DemoConfig.from_dict({"units": 8}) == DemoConfig(units=8)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "DemoConfig: unknown settings ['colour']; expected some of ['units', 'cell', "
            "'rate', 'clipnorm', 'patience', 'shuffle', 'bucketing', 'name']."
        ),
    ):
        DemoConfig.from_dict({"colour": "red"})
    with pytest.raises(
        ValueError, match=re.escape("`units` expected an integer in [1, 4096], received 10000000")
    ):
        DemoConfig.from_dict({"units": 10_000_000})  # fmt: skip
    with pytest.raises(
        TypeError, match=re.escape("DemoConfig: `data` expected a dict of settings")
    ):
        DemoConfig.from_dict([1])


def test_8_unsupported_field_types_and_missing_help_refused():
    @dataclass
    class Bad(Config):
        sizes: list = option(None, "layer sizes")

    with pytest.raises(TypeError, match=r"Bad: field `sizes` has an unsupported type"):
        Bad.add_arguments(argparse.ArgumentParser())
    with pytest.raises(ValueError, match=r"option: `help` expected a non-empty description"):
        option(1, " ")


def test_9_include_exclude_and_hidden_fields():
    @dataclass
    class Small(Config):
        a: int = option(1, "a", low=1)
        b: int = option(2, "b", low=1)
        c: int = option(3, "c", low=1, cli=False)

    parser = Small.add_arguments(argparse.ArgumentParser(), exclude=("b",))
    flags = {s for a in parser._actions for s in a.option_strings}
    assert "--a" in flags and "--b" not in flags and "--c" not in flags
    assert Small.from_args(parser.parse_args(["--a", "5"])) == Small(a=5)
    parser = Small.add_arguments(argparse.ArgumentParser(), include=("b",))
    assert {s for a in parser._actions for s in a.option_strings} == {"-h", "--help", "--b"}
