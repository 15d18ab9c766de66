"""The medledger command line."""
