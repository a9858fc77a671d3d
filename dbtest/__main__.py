from dbtest.launch import main

main()
