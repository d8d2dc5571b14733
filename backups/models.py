"""Models of the backups app."""
