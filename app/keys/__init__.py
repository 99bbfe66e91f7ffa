"""Per-user API keys: creating, listing and revoking them (web pages and `flask keys`)."""
