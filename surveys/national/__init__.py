"""The national instance (SURVEYS_MODE=national): NNS's pages, commands and services."""
