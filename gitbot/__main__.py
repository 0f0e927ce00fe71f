"""Allow ``python -m gitbot``."""

from gitbot.cli import main

raise SystemExit(main())
