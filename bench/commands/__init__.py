"""The command-line commands: each parses its options and calls the stages below."""
