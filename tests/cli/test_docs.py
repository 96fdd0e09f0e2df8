"""The README documents every command, option, environment variable and exit code."""

from pathlib import Path

import typer

from alchemiser_cli.cli.app import app
from alchemiser_cli.domain.errors import ExitCode

README = (Path(__file__).parents[2] / "README.md").read_text()


def walk(command, prefix=()):  # yields (path, command)
    if hasattr(command, "list_commands"):
        for name in command.list_commands(None):
            yield from walk(command.get_command(None, name), (*prefix, name))
    else:
        yield prefix, command


COMMANDS = list(walk(typer.main.get_command(app)))


def test_the_app_has_the_expected_commands():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"rebalance", "place", "quote", "verify", "verify-migration", "metrics", "runs",
            "show", "plan init", "plan snapshot", "sim reset", "sim status", "sim fault",
            "sim serve", "accounts", "fills", "prune", "config show", "config path"} == names


def test_every_command_has_help_and_is_documented():
    for path, command in COMMANDS:
        assert (command.help or "").strip(), path
        assert f"alch {' '.join(path)}" in README, f"alch {' '.join(path)} is not in README.md"


def test_every_option_and_env_var_is_documented():
    for path, command in COMMANDS:
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert f"`{opt}" in README or f" {opt}" in README or f"[{opt}" in README, (
                        f"{opt} of alch {' '.join(path)} is not documented")
            envvar = getattr(param, "envvar", None)
            for var in [envvar] if isinstance(envvar, str) else (envvar or []):
                assert var in README, var


def test_every_exit_code_is_in_the_readme_table():
    for code in ExitCode:
        assert f"\n| {int(code)} |" in README, code


def test_the_lazy_command_list_matches_each_commands_own_help():
    from alchemiser_cli.cli.lazy import COMMANDS, load

    for name, entry in COMMANDS.items():
        command = load(name)
        own = (command.help or "").strip().splitlines()[0]
        assert own == entry.help, name


def test_every_alch_environment_variable_is_documented():
    from alchemiser_cli.settings import OTHER_ENVIRONMENT

    for name in OTHER_ENVIRONMENT:
        assert f"`ALCH_{name}`" in README or f"`ALCH_{name}=" in README, name


def test_the_cli_reference_is_generated_from_the_current_help():
    """docs/cli-reference.md is cog output of every command's --help: `make docs` after a
    change to a command, or this fails."""
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, "-m", "cogapp", "--check", "--diff",
                           "docs/cli-reference.md"], cwd=root, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr + "\n(run `make docs`)"
    reference = (root / "docs" / "cli-reference.md").read_text()
    for path, _ in COMMANDS:
        assert f"## `alch {' '.join(path)}`" in reference, path
