from aai_mcp.cli import main

raise SystemExit(main())
