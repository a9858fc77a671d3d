from dbtest.cli import main

main()
