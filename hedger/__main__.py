from hedger.cli import main

main()
