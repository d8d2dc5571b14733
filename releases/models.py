"""Models of the releases app."""
