"""One file per schema version; a new feature adds one, never edits an old one."""
