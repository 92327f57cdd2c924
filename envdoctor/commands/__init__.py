"""One module per subcommand: each turns parsed arguments into output and an exit code."""
