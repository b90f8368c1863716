"""The command line: `aai-mcp serve | stdio | simulate | tools | config | doctor | token`."""
