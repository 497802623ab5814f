from foleystudio.cli import main

raise SystemExit(main())
