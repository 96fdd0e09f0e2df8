"""The example config the deployments share: accounts that the unit files and jobs name."""

from __future__ import annotations

from tests.deploy.helpers import CONFIG_EXAMPLE, accounts


def test_every_account_names_its_credentials_variables_and_a_broker():
    assert set(accounts()) == {"taxable", "retirement"}
    for name, table in accounts().items():
        assert table["mode"] in {"paper", "live"}, name
        assert table["key_id_env"] == f"ALPACA_{name.upper()}_KEY_ID"
        assert table["secret_key_env"] == f"ALPACA_{name.upper()}_SECRET_KEY"
        assert table["notify_on"] in {"failure", "success", "always"}
        assert "credentials_file" not in table  # one source of credentials per account


def test_the_example_config_loads_with_the_real_settings(monkeypatch):
    from alchemiser_cli.settings import load_settings

    for table in accounts().values():
        monkeypatch.setenv(table["key_id_env"], "PKFAKE0000000000")
        monkeypatch.setenv(table["secret_key_env"], "fakesecret0000000000")
    settings = load_settings(CONFIG_EXAMPLE)
    assert set(settings.accounts) == set(accounts())
