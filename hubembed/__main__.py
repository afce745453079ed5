from hubembed.cli import main

main()
