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
    assert kinds[0] == "run_started" and kinds[-2:] == ["run_finished", "summary"]
    assert "order_submitting" in kinds and "validation" in kinds
    run_id = events[0]["run_id"]
    assert all(e["v"] == 1 and e["run_id"] == run_id and e["at"] for e in events)
    done = next(e for e in events if e["event"] == "execution")
    assert done["status"] == "filled" and done["filled_qty"] == "5"
    assert done["fill_step"] == 1 and done["fill_order_type"] == "market"  # an integer step
    summary = events[-1]
    assert summary["ok"] is True and summary["exit_code"] == 0 and summary["command"] == "place"
    assert summary["filled_qty"] == "5" and summary["status"] == "filled"


def test_quote_table_flags_zero_sides_and_stale_quotes(capsys):
    alch(capsys, "sim", "fault", "quote_mode=MSFT:zero_ask", "quote_mode=SPY:stale")
    result = alch(capsys, "quote", "AAPL", "MSFT", "SPY", "--sim")
    assert result.code == ExitCode.FAILED  # one symbol has no usable quote
    lines = result.out.splitlines()
    assert lines[0].split() == ["Symbol", "Source", "Bid", "Ask", "Spread", "bps", "Age", "Flags",
                                "State"]
    assert lines[1].split()[:2] == ["AAPL", "stream"] and lines[1].endswith("ok")
    assert "zero-ask" in lines[2] and lines[2].endswith("ok")
    assert lines[3].split()[1] == "rest" and lines[3].endswith("stale")


def test_quote_json(capsys):
    result = alch(capsys, "quote", "SNDL", "--sim", "--json")
    obj, summary = (json.loads(line) for line in result.out.splitlines())
    assert obj["event"] == "quote" and obj["symbol"] == "SNDL" and obj["usable"] is True
    assert obj["bid"] == "0.8394" and obj["ask"] == "0.8448"  # sub-dollar: four decimals
    assert summary["event"] == "summary" and summary["ok"] is True
    assert obj["run_id"] == summary["run_id"]  # the quote run in the journal
    text = alch(capsys, "quote", "SNDL", "--sim").out.splitlines()
    assert text[1].split()[:4] == ["SNDL", "stream", "0.8394", "0.8448"]
