import json

from alchemiser_cli.domain.errors import ExitCode
from tests.cli.helpers import alch

PLACE_AAPL = """\
run RUN (place, sim)
quote AAPL stream bid 228.50 ask 228.51 age 0.0s
submit AAPL market: buy 10 market id alch-RUN-AAPL-m
result AAPL market: filled, filled 10/10 avg 228.51, total 10, 0.5s
check AAPL pass: position 70 as expected
done AAPL buy filled: filled 10/10 avg 228.51, slippage 0.09 bps, last fill at step market, 1s
"""  # a one-cent spread: the default walk sends the market order at once


def test_place_on_the_simulator_shows_each_step_and_the_check(capsys):
    result = alch(capsys, "place", "AAPL", "buy", "10", "--sim")
    assert result.code == ExitCode.OK
    assert result.out == PLACE_AAPL
    assert result.err == ""


def test_place_walks_every_step_to_market_when_limits_do_not_fill(capsys, monkeypatch):
    monkeypatch.setenv("ALCH_PROFILES__MEDIUM__PROFILE", "seed")  # a step whatever the spread
    assert alch(capsys, "sim", "fault", "limit_fills=false").code == 0
    result = alch(capsys, "place", "AAPL", "buy", "10", "--sim")
    assert result.code == ExitCode.OK
    steps = [line for line in result.out.splitlines() if line.startswith("result ")]
    assert [s.split(":")[0] for s in steps] == [
        "result AAPL step 1", "result AAPL step 2", "result AAPL step 3", "result AAPL market"]
    assert "last fill at step market" in result.out


def test_place_json_is_one_object_per_line(capsys):
    result = alch(capsys, "place", "AAPL", "sell", "5", "--sim", "--json")
    assert result.code == 0
    events = [json.loads(line) for line in result.out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert "order_submitting" in kinds and "validation" in kinds
    done = next(e for e in events if e["event"] == "execution")
    assert done["status"] == "filled" and done["filled_qty"] == "5"


def test_quote_table_flags_zero_sides_and_stale_quotes(capsys):
    alch(capsys, "sim", "fault", "quote_mode=MSFT:zero_ask", "quote_mode=SPY:stale")
    result = alch(capsys, "quote", "AAPL", "MSFT", "SPY", "--sim")
    assert result.code == ExitCode.FAILED  # one symbol has no usable quote
    lines = result.out.splitlines()
    assert lines[0].split() == ["Symbol", "Source", "Bid", "Ask", "Mid", "Spread", "bps", "Age",
                                "Flags", "State"]
    assert lines[1].split()[:2] == ["AAPL", "stream"] and lines[1].endswith("ok")
    assert "zero-ask" in lines[2] and lines[2].endswith("ok")
    assert lines[3].split()[1] == "rest" and lines[3].endswith("stale")


def test_quote_json(capsys):
    result = alch(capsys, "quote", "SNDL", "--sim", "--json")
    obj = json.loads(result.out)
    assert obj["symbol"] == "SNDL" and obj["usable"] is True
    assert len(obj["bid"].split(".")[1]) == 4  # sub-dollar prices keep four decimals
