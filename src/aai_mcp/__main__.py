from aai_mcp.cli.main import main

raise SystemExit(main())
