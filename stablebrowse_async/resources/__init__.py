"""One module per API area; each class exposes that area's verbs."""
