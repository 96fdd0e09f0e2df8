from alchemiser_cli.cli.app import main

main()
