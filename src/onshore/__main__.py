from onshore.cli.main import main

main()
