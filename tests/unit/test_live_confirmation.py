"""--live needs a typed confirmation on a terminal, or --yes."""

import io

import pytest

from alchemiser_cli.brokers.factory import BrokerMode
from alchemiser_cli.cli.context import confirm_live
from alchemiser_cli.cli.render import Terminal
from alchemiser_cli.domain.errors import NotConfirmedError


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def terminal() -> Terminal:
    return Terminal(stdout=FakeTTY(), stderr=io.StringIO(), is_tty=True)


@pytest.mark.parametrize(("answer", "confirmed"), [("y\n", True), ("yes\n", True),
                                                   ("n\n", False), ("\n", False)])
def test_a_terminal_must_type_yes(monkeypatch, answer, confirmed):
    monkeypatch.setattr("sys.stdin", FakeTTY(answer))
    term = terminal()
    if confirmed:
        confirm_live(BrokerMode.LIVE, False, term, "rebalance to plan.toml")
    else:
        with pytest.raises(NotConfirmedError, match="not confirmed; nothing placed"):
            confirm_live(BrokerMode.LIVE, False, term, "rebalance to plan.toml")
    assert "LIVE account: rebalance to plan.toml. Trade real money? [y/N]" in term.stderr.getvalue()


class NoInput(FakeTTY):
    """A terminal nobody may read from: the confirmation must not be asked."""

    def readline(self, *args: object) -> str:
        raise AssertionError("the operator was asked to confirm")

    read = readline


@pytest.mark.parametrize(("mode", "yes"), [(BrokerMode.LIVE, True), (BrokerMode.PAPER, False),
                                           (BrokerMode.SIM, False)])
def test_yes_skips_the_prompt_and_paper_never_asks(monkeypatch, mode, yes):
    monkeypatch.setattr("sys.stdin", NoInput())
    term = terminal()
    assert confirm_live(mode, yes, term, "x") is None  # confirmed: no NotConfirmedError
    assert term.stderr.getvalue() == ""  # no prompt was shown


def test_no_terminal_without_yes_refuses(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped "y" is not a confirmation
    with pytest.raises(NotConfirmedError, match="needs --yes"):
        confirm_live(BrokerMode.LIVE, False, terminal(), "x")
