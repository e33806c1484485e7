from askpro.cli import main

main()
