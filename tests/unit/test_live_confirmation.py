"""--live needs a typed confirmation on a terminal (the account number's last four
characters, after the plan and the account are shown), or --yes."""

import asyncio
import io
import os
from decimal import Decimal

import pytest

from alchemiser_cli.api import AccountSummary
from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.cli.context import confirm_live, require_confirmable
from alchemiser_cli.cli.render.terminal import Terminal
from alchemiser_cli.domain.errors import NotConfirmedError

ACCOUNT = AccountSummary(number="PA3K7Q9Z1234", status="ACTIVE", equity=Decimal(100000),
                         cash=Decimal(5000), buying_power=Decimal(5000), broker="live",
                         endpoint="https://api.alpaca.markets")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def terminal(stdin: io.TextIOBase | None = None, *, json_mode: bool = False) -> Terminal:
    return Terminal(stdout=FakeTTY(), stderr=io.StringIO(), is_tty=True, json_mode=json_mode,
                    stdin=stdin or FakeTTY())


def typed(answer: str) -> io.TextIOWrapper:
    """A readable file descriptor holding what the operator typed (ask() selects on it)."""
    read, write = os.pipe()
    os.write(write, answer.encode())
    os.close(write)
    return os.fdopen(read, "r")


def test_only_live_without_yes_asks():
    assert require_confirmable(BrokerMode.LIVE, False, terminal()) is True
    assert require_confirmable(BrokerMode.LIVE, True, terminal(io.StringIO())) is False
    assert require_confirmable(BrokerMode.PAPER, False, terminal(io.StringIO())) is False
    assert require_confirmable(BrokerMode.SIM, False, terminal(io.StringIO())) is False


@pytest.mark.parametrize("term", [terminal(io.StringIO("1234\n")),  # piped: not a person
                                  terminal(json_mode=True)])  # --json: a machine reads it
def test_live_without_a_terminal_and_without_yes_refuses_before_anything(term):
    with pytest.raises(NotConfirmedError, match="without a terminal needs --yes"):
        require_confirmable(BrokerMode.LIVE, False, term)


@pytest.mark.parametrize("answer", ["1234\n", "  1234 \n"])
def test_typing_the_last_four_characters_confirms(answer):
    term = terminal(typed(answer))
    asyncio.run(confirm_live(term, ACCOUNT, "rebalance to plan.toml: 3 order(s)"))
    assert term.stdout.getvalue() == (
        "LIVE account PA3K7Q9Z1234 (ACTIVE) at https://api.alpaca.markets\n"
        "rebalance to plan.toml: 3 order(s)\n")
    assert term.stderr.getvalue() == ("This trades real money. Type the last 4 characters of "
                                      "PA3K7Q9Z1234 to go on: ")


@pytest.mark.parametrize("answer", ["y\n", "yes\n", "\n", "123\n", "PA3K7Q9Z1234\n", ""])
def test_anything_else_is_not_a_confirmation(answer):
    with pytest.raises(NotConfirmedError, match="not confirmed; nothing placed"):
        asyncio.run(confirm_live(terminal(typed(answer)), ACCOUNT, "x"))
